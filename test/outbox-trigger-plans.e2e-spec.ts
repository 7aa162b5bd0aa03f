import { Client } from 'pg';
import { seedRootChildren } from './setup/factories';
import { startTestApp, TestApp } from './setup/test-app';

/**
 * The ledger's outbox trigger keeps a plan per connection, made for the size of its first
 * statement's entries. Whatever that first statement was (here a 1,000-entry one, as a batch
 * or a run of calls makes), the plan must look holders up by primary key, never read the whole
 * customers table: a connection that planned a hash join over `customers` for a batch paid a
 * scan of every customer on each posting after it (migration 1764700100000). Counted with the
 * transaction's own scan counters (pg_stat_xact_user_tables), so no timing is involved.
 */
describe('the ledger outbox trigger’s plan, whatever the first statement on a connection', () => {
  let t: TestApp;
  let client: Client;
  let rootId: string;

  beforeAll(async () => {
    t = await startTestApp();
    const [root] = await t.dataSource.query(`SELECT id, path FROM customers WHERE depth = 0`);
    rootId = root.id;
    // Enough customers that reading them all costs more than a thousand key lookups.
    await seedRootChildren(t, 50000, 'plans');
    await t.dataSource.query('ANALYZE customers');
    await t.dataSource.query('ANALYZE accounts');
    client = new Client({ connectionString: t.config.DATABASE_URL });
    await client.connect();
  }, 60000);
  afterAll(async () => {
    await client.end();
    await t.close();
  });

  const customerSeqScans = async () =>
    Number((await client.query(`SELECT seq_scan FROM pg_stat_xact_user_tables WHERE relname = 'customers'`)).rows[0].seq_scan);
  const insertEntries = (n: number) =>
    client.query(
      `INSERT INTO ledger_entries (id, customer_id, action, amount, currency, exchange_rate, converted_amount, balance_after, actor_id)
       SELECT gen_random_uuid(), $1, 'credit', 1.25, 'USD', 1, 1.25, 1.25 * g, $1 FROM generate_series(1, ${n}) g`,
      [rootId],
    );

  it('a 1,000-entry statement first, then single entries: no statement reads all customers', async () => {
    await client.query('BEGIN');
    try {
      expect(await customerSeqScans()).toBe(0);
      await insertEntries(1000);
      const afterBatch = await customerSeqScans();
      for (let i = 0; i < 3; i++) await insertEntries(1);
      expect({ afterBatch, afterSingles: await customerSeqScans() }).toEqual({ afterBatch: 0, afterSingles: 0 });
      // The trigger did its work: every entry has its event.
      const { rows } = await client.query(`SELECT count(*)::int AS n FROM event_outbox WHERE type = 'balance.changed' AND txid = pg_current_xact_id()`);
      expect(rows[0].n).toBe(1003);
    } finally {
      await client.query('ROLLBACK');
    }
  });
});
