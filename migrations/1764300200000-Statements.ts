import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Statements (SPEC §13) read a holder's ledger by time: the entries of a month
 * (`created_at` in [from, to)) and the last entry before each bound (the opening and closing
 * balances). The ledger's indexes are by sequence, so a month long past would otherwise read
 * every entry written since; these serve both reads with one range scan each, whatever the
 * ledger's length. `seq` breaks ties between entries written at the same microsecond.
 */
export class Statements1764300200000 implements MigrationInterface {
  name = 'Statements1764300200000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX ledger_entries_customer_time ON ledger_entries (customer_id, created_at, seq) WHERE customer_id IS NOT NULL`);
    await q.query(`CREATE INDEX ledger_entries_account_time ON ledger_entries (account_id, created_at, seq) WHERE account_id IS NOT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX ledger_entries_account_time`);
    await q.query(`DROP INDEX ledger_entries_customer_time`);
  }
}
