import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A posting applied in one statement records its idempotency key with a reference to the
 * ledger entry (the response is rebuilt from it on replay) instead of a stored body.
 */
export class FastPostings1764100600000 implements MigrationInterface {
  name = 'FastPostings1764100600000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE idempotency_keys ADD COLUMN ledger_entry_id uuid REFERENCES ledger_entries(id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE idempotency_keys DROP COLUMN ledger_entry_id`);
  }
}
