import { randomUUID } from 'node:crypto';
import { Actor, loginRoot, seedRootChildren } from './setup/factories';
import { startTestApp, TestApp } from './setup/test-app';
import { eventually } from './setup/webhook-receiver';

/**
 * Every posting leaves a dead version of its holder's balance row (the balance is indexed, so
 * the update cannot be HOT), and later postings on that holder walk those versions until a
 * vacuum removes them. The balance tables are therefore vacuumed after ~1,000 dead versions
 * (migration 1764800000000-BalanceRowsVacuum) instead of a fifth of the table, and the embedded
 * PostgreSQL's autovacuum looks every 5 s instead of every minute. Checked: the settings are
 * there, and postings through HTTP that leave more than the threshold get their balance rows
 * vacuumed without anyone asking (on a server whose autovacuum looks at most every 10 s).
 */
describe('the balance rows are vacuumed while postings run', () => {
  let t: TestApp;
  let root: Actor;

  beforeAll(async () => {
    t = await startTestApp();
    root = await loginRoot(t);
  });
  afterAll(() => t.close());

  it('the balance tables carry their own vacuum thresholds', async () => {
    const rows: Array<{ relname: string; reloptions: string[] }> = await t.dataSource.query(
      `SELECT relname, reloptions FROM pg_class WHERE relname IN ('customer_balances', 'account_balances') AND relkind = 'r' ORDER BY relname`,
    );
    expect(rows.map((r) => ({ table: r.relname, options: [...(r.reloptions ?? [])].sort() }))).toEqual(
      ['account_balances', 'customer_balances'].map((table) => ({
        table,
        options: ['autovacuum_vacuum_scale_factor=0.02', 'autovacuum_vacuum_threshold=1000'],
      })),
    );
  });

  it('the embedded PostgreSQL lets autovacuum look every 5 s', async () => {
    if (process.env.DATABASE_URL) return; // a server of its own: its administrator's setting (README, "Production")
    const [row] = await t.dataSource.query(`SHOW autovacuum_naptime`);
    expect(row.autovacuum_naptime).toBe('5s');
  });

  it('postings that leave over 1,000 dead balance versions are followed by a vacuum of the balance rows', async () => {
    const [{ naptime }] = await t.dataSource.query(`SELECT setting::int AS naptime FROM pg_settings WHERE name = 'autovacuum_naptime'`);
    const [{ on }] = await t.dataSource.query(`SELECT setting = 'on' AS on FROM pg_settings WHERE name = 'autovacuum'`);
    if (naptime > 10 || !on) return; // not this server's setting: nothing to wait for within a test
    const holders = await seedRootChildren(t, 100, 'vacuum');
    const vacuums = async () =>
      Number((await t.dataSource.query(`SELECT autovacuum_count FROM pg_stat_user_tables WHERE relname = 'customer_balances'`))[0].autovacuum_count);
    const before = await vacuums();
    // 12 batches, each updating the 100 balance rows once: 1,200 dead versions.
    for (let i = 0; i < 12; i++) {
      const operations = holders.map((id) => ({ customerId: id, action: 'add_funds', amount: '1.00' }));
      await root.post('/v1/balance-operations/batch', { operations }).set('Idempotency-Key', randomUUID()).expect(201);
    }
    await eventually(async () => (await vacuums()) > before, 45000, 'an autovacuum of customer_balances');
    // Nothing was lost by it: each holder holds its 12 postings.
    const balances: Array<{ balance: string }> = await t.dataSource.query(
      `SELECT balance::text FROM customer_balances WHERE customer_id = ANY ($1::uuid[])`,
      [holders],
    );
    expect(new Set(balances.map((b) => b.balance))).toEqual(new Set(['12.00000000']));
  }, 90000);
});
