import { Client } from 'pg';
import { sessionOptions } from '../src/database/data-source';
import { GenericPlans } from '../src/database/generic-plans';
import { PointReads } from '../src/database/point-reads';
import { startTestApp, TestApp } from './setup/test-app';

/**
 * Canopy's sessions plan with random_page_cost 1.1 (README, Configuration: PGOPTIONS): at
 * PostgreSQL's default of 4 the posting statement read a 1,000-row balance table whole instead
 * of probing its index for a group's few holders. Every pool of the app has it: the main
 * pool, the point-read lanes and the generic-plan connections (which add their own setting).
 */
describe('session options of every connection', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('plans with random_page_cost 1.1 on the main pool, the point-read lanes and the generic-plan pool', async () => {
    const setting = `SELECT current_setting('random_page_cost') AS cost, current_setting('plan_cache_mode') AS mode`;
    expect(await t.dataSource.query(setting)).toEqual([{ cost: '1.1', mode: 'auto' }]);
    expect(await t.app.get(PointReads).query(setting, [])).toEqual([{ cost: '1.1', mode: 'auto' }]);
    expect(await t.app.get(GenericPlans).query(setting, [])).toEqual([{ cost: '1.1', mode: 'force_generic_plan' }]);
  });

  it('lets PGOPTIONS in the environment override them, as it comes after', async () => {
    const before = process.env.PGOPTIONS;
    try {
      delete process.env.PGOPTIONS;
      expect(sessionOptions()).toBe('-c random_page_cost=1.1');
      process.env.PGOPTIONS = '-c random_page_cost=4 -c work_mem=8MB';
      const options = sessionOptions();
      expect(options).toBe('-c random_page_cost=1.1 -c random_page_cost=4 -c work_mem=8MB');
      // PostgreSQL applies them in order: the later setting wins.
      const client = new Client({ connectionString: t.config.DATABASE_URL, options });
      await client.connect();
      try {
        const { rows } = await client.query(`SELECT current_setting('random_page_cost') AS cost, current_setting('work_mem') AS mem`);
        expect(rows).toEqual([{ cost: '4', mem: '8MB' }]);
      } finally {
        await client.end();
      }
    } finally {
      if (before === undefined) delete process.env.PGOPTIONS;
      else process.env.PGOPTIONS = before;
    }
  });
});
