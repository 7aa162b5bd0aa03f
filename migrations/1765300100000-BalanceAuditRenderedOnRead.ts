import { MigrationInterface, QueryRunner } from 'typeorm';
import { balanceOperationChangesSql } from '../src/balances/ledger-audit';

/**
 * The audit events of balance operations no longer copy their entry into `changes`: THE
 * posting statement writes them with `changes` NULL, and the audit log renders them from the
 * entry the event names (`target_id`) when it is read (`balanceOperationChangesSql`,
 * src/balances/ledger-audit.ts), with the values the copy held (the ledger is immutable).
 * Building that JSON for every operation was about a fourteenth of the posting statement on a
 * 1,000-operation batch (bench/RESULTS.md, sixteenth session).
 *
 * Nothing in the schema changes (`changes` was nullable: events without before/after have
 * none); this migration marks the version from which NULL means "the entry's", and its `down`
 * writes the copies back, for a build that does not render them. Events written before keep
 * their copies.
 */
export class BalanceAuditRenderedOnRead1765300100000 implements MigrationInterface {
  name = 'BalanceAuditRenderedOnRead1765300100000';

  async up(): Promise<void> {
    // Nothing to change: see above.
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(
      `UPDATE audit_events a SET changes = ${balanceOperationChangesSql('a', 'l')}
         FROM ledger_entries l
        WHERE a.changes IS NULL AND a.target_type = 'balance-operation'
          AND l.id = CASE WHEN a.target_type = 'balance-operation' THEN a.target_id::uuid END`,
    );
  }
}
