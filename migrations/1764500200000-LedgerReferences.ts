import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * External references and metadata on ledger entries (SPEC §6, §15).
 *
 * `external_reference` is a permanent de-duplication key per holder: one unique partial index
 * per kind of holder, on (holder, reference) where a reference is given, so that two entries
 * on one holder can never share one, whatever the concurrency, and `?externalReference=` on a
 * holder's ledger is one index lookup. Entries without a reference (usage charges, opening
 * balances, most operations) are not in these indexes at all.
 *
 * `metadata` is the integrator's own key/value data (`'{}'` when none). Both columns are added
 * without rewriting the ledger (a NULL column, and a constant default kept in the catalogue).
 */
export class LedgerReferences1764500200000 implements MigrationInterface {
  name = 'LedgerReferences1764500200000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE ledger_entries
        ADD COLUMN external_reference varchar(128) CHECK (external_reference <> ''),
        ADD COLUMN metadata jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(metadata) = 'object')`);
    await q.query(`
      CREATE UNIQUE INDEX ledger_entries_customer_reference ON ledger_entries (customer_id, external_reference)
       WHERE external_reference IS NOT NULL AND customer_id IS NOT NULL`);
    await q.query(`
      CREATE UNIQUE INDEX ledger_entries_account_reference ON ledger_entries (account_id, external_reference)
       WHERE external_reference IS NOT NULL AND account_id IS NOT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX ledger_entries_account_reference`);
    await q.query(`DROP INDEX ledger_entries_customer_reference`);
    await q.query(`ALTER TABLE ledger_entries DROP COLUMN metadata, DROP COLUMN external_reference`);
  }
}
