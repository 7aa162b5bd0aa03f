import { existsSync } from 'node:fs';
import { ChaosResult, MAIN, formatReport, runChaos } from '../scripts/chaos-lib';
import { createTestDatabase, dropTestDatabase, readTestDatabaseInfo } from './setup/test-database';

/**
 * The short form of `npm run chaos`: two built instances on one database, concurrent
 * balance operations against both, two SIGKILLs mid-load, then every answer the clients got
 * checked against the ledger (see scripts/chaos-lib.js for the invariants).
 */
describe('crash safety with two instances (chaos, short form)', () => {
  let result: ChaosResult;

  beforeAll(async () => {
    if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npm run build\` first (\`npm test\` builds in pretest).`);
    const info = readTestDatabaseInfo();
    const db = await createTestDatabase(info);
    try {
      result = await runChaos(db.url, { durationMs: 6000, kills: 2, clients: 8, customers: 12, finalEchoes: 30 });
    } finally {
      await dropTestDatabase(info, db.name);
    }
    if (!result.ok || process.env.CHAOS_VERBOSE) process.stdout.write(formatReport(result) + '\n');
  }, 120000);

  it('killed and restarted instances under load, and the load got through', () => {
    expect(result.stats.kills).toBe(2);
    expect(result.stats.restarts).toBe(2);
    expect(result.stats.acknowledged).toBeGreaterThan(20);
    expect(result.stats.refused).toBeGreaterThan(0);
    expect(result.stats.replays).toBeGreaterThan(0);
    expect(result.stats.batchesAcknowledged).toBeGreaterThan(0);
  });

  it('holds every invariant', () => {
    const failed = result.checks.filter((c) => !c.ok).map((c) => ({ check: c.name, failures: c.failures.slice(0, 5) }));
    expect(failed).toEqual([]);
    expect(result.checks.length).toBeGreaterThanOrEqual(10);
  });
});
