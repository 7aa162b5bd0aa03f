import { randomUUID } from 'node:crypto';
import { UNREAD_COLUMNS } from '../migrations/1765300000000-StatisticsWhereRead';
import { Actor, createCustomer, loginRoot } from './setup/factories';
import { startTestApp, TestApp } from './setup/test-app';

/**
 * Migration 1765300000000-StatisticsWhereRead: ANALYZE gathers no statistics for what the
 * ledger, audit log and feed rows say (never a condition of any statement), and still does for
 * where they are found, which the planner reads.
 */
describe('planner statistics of the ledger, the audit log and the feed', () => {
  let t: TestApp;
  let root: Actor;

  beforeAll(async () => {
    t = await startTestApp();
    root = await loginRoot(t);
  });
  afterAll(() => t.close());

  it('are gathered for the columns statements select by, and not for the others', async () => {
    const customer = await createCustomer(t, root);
    const operations = Array.from({ length: 20 }, (_, i) => ({
      customerId: customer.id,
      action: i % 2 ? 'debit' : 'add_funds',
      amount: '1.25',
      notes: `note ${i}`,
      metadata: { invoice: `inv-${i}` },
    }));
    await root.post('/v1/balance-operations/batch', { operations }).set('Idempotency-Key', randomUUID()).expect(201);
    // The entries are listed by the filters the statistics serve.
    const page = await root.get(`/v1/customers/${customer.id}/balance-operations?action=debit`).expect(200);
    expect(page.body.items).toHaveLength(10);

    await t.dataSource.query('ANALYZE ledger_entries, audit_events, events');
    const rows: Array<{ tablename: string; attname: string }> = await t.dataSource.query(
      `SELECT tablename, attname FROM pg_stats WHERE schemaname = current_schema() AND tablename = ANY ($1::text[])`,
      [Object.keys(UNREAD_COLUMNS)],
    );
    const gathered = (table: string) => rows.filter((r) => r.tablename === table).map((r) => r.attname);
    for (const [table, columns] of Object.entries(UNREAD_COLUMNS)) {
      for (const column of columns) expect({ table, column, gathered: gathered(table).includes(column) }).toEqual({ table, column, gathered: false });
    }
    expect(gathered('ledger_entries')).toEqual(expect.arrayContaining(['customer_id', 'account_id', 'action', 'created_at', 'seq', 'external_reference', 'low_balance_threshold']));
    expect(gathered('audit_events')).toEqual(expect.arrayContaining(['subject_path', 'target_type', 'target_id', 'at', 'seq', 'action']));
    expect(gathered('events')).toEqual(expect.arrayContaining(['subject_path', 'sequence', 'type', 'ledger_seq']));
  });
});
