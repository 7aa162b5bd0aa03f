import { GenericPlans } from '../src/database/generic-plans';
import { Actor, createCustomer, loginRoot, uniqueName } from './setup/factories';
import { startTestApp, TestApp } from './setup/test-app';

/**
 * Plain tree pages (no filter, no `q`, tree order) run on their own small pool whose connections
 * plan each statement once (README, "Tree pages planned once"); every other page stays on the
 * main pool, planned for its values. What each connection last ran is in pg_stat_activity.
 */
describe('tree pages planned once', () => {
  let t: TestApp;
  let root: Actor;
  let reseller: Actor;
  const names: string[] = [];

  beforeAll(async () => {
    t = await startTestApp();
    root = await loginRoot(t);
    reseller = await createCustomer(t, root, { name: uniqueName('reseller') });
    for (let i = 0; i < 3; i++) {
      const child = await createCustomer(t, reseller, { name: uniqueName(`child${i}`) });
      names.push((await child.get('/v1/me')).body.name);
      await createCustomer(t, child, { name: uniqueName(`grandchild${i}`) });
    }
  });
  afterAll(() => t.close());

  /** The last statement of each of this app's generic-plan connections. */
  const genericConnections = async (): Promise<string[]> =>
    (
      await t.dataSource.query(`SELECT query FROM pg_stat_activity WHERE application_name = 'canopy-generic-plans' AND datname = current_database()`)
    ).map((r: { query: string }) => r.query);

  it('runs on connections that plan once, and opens them only when a plain page is asked for', async () => {
    expect(await genericConnections()).toEqual([]);
    const first = await reseller.get('/v1/customers?scope=subtree&limit=4').expect(200);
    expect(first.body.items).toHaveLength(4);
    const second = await reseller.get(`/v1/customers?scope=subtree&limit=4&cursor=${encodeURIComponent(first.body.nextCursor)}`).expect(200);
    expect(second.body).toMatchObject({ nextCursor: null });
    expect(second.body.items).toHaveLength(2);
    const children = await root.get(`/v1/customers?parentId=${reseller.id}`).expect(200);
    expect(children.body.items.map((i: { name: string }) => i.name).sort()).toEqual([...names].sort());
    const statements = await genericConnections();
    expect(statements.length).toBeGreaterThan(0);
    expect(statements.join('\n')).toMatch(/\b[cp]\.path >= \$\d+ AND [cp]\.path < \$\d+/);
    expect(await t.app.get(GenericPlans).query<{ plan_cache_mode: string }>('SHOW plan_cache_mode', [])).toEqual([{ plan_cache_mode: 'force_generic_plan' }]);
    // The main pool keeps planning for the values.
    expect(await t.dataSource.query('SHOW plan_cache_mode')).toEqual([{ plan_cache_mode: 'auto' }]);
  });

  it('leaves pages with q, a filter or a sort to the main pool', async () => {
    const before = await genericConnections();
    await reseller.get(`/v1/customers?scope=subtree&q=${encodeURIComponent(names[0])}`).expect(200);
    await reseller.get('/v1/customers?scope=subtree&status=active').expect(200);
    await reseller.get('/v1/customers?scope=subtree&sort=name').expect(200);
    expect(await genericConnections()).toEqual(before);
  });
});
