import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * No planner statistics for the columns of the ledger, the audit log and the event feed that
 * no statement ever selects, joins or sorts by: what a row says (amounts, notes, metadata, the
 * audit event's changes, the event's body), as opposed to where it is found (holder, time,
 * sequence, path, type, reference, which keep their statistics).
 *
 * ANALYZE samples up to 30,000 rows of a table each time it has grown by a tenth
 * (autovacuum's analyze threshold) and sorts every column's sample to build its histogram; for
 * the audit log's `changes` (jsonb, compared value by value) that was half of the analyze, and
 * the analyzes of these three tables were about a tenth of the database's CPU while batches
 * grew them (bench/RESULTS.md, sixteenth session). The planner never reads these statistics.
 *
 * A column that a later statement filters on must get its statistics back (`SET STATISTICS -1`).
 */
export const UNREAD_COLUMNS: Record<string, string[]> = {
  ledger_entries: ['amount', 'currency', 'exchange_rate', 'converted_amount', 'balance_after', 'notes', 'idempotency_key', 'metadata'],
  audit_events: ['changes', 'request_id', 'client_address'],
  events: ['subject_type', 'subject_id', 'data'],
};

export class StatisticsWhereRead1765300000000 implements MigrationInterface {
  name = 'StatisticsWhereRead1765300000000';

  async up(q: QueryRunner): Promise<void> {
    for (const [table, columns] of Object.entries(UNREAD_COLUMNS)) {
      await q.query(`ALTER TABLE ${table} ${columns.map((c) => `ALTER COLUMN ${c} SET STATISTICS 0`).join(', ')}`);
    }
  }

  async down(q: QueryRunner): Promise<void> {
    for (const [table, columns] of Object.entries(UNREAD_COLUMNS)) {
      await q.query(`ALTER TABLE ${table} ${columns.map((c) => `ALTER COLUMN ${c} SET STATISTICS -1`).join(', ')}`);
    }
  }
}
