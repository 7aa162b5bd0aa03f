import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The ledger's references kept by rule instead of by foreign-key checks.
 *
 * A foreign key checks every row inserted on its referencing side: for each ledger entry, a
 * lookup of its holder and of its actor, each taking a `FOR KEY SHARE` lock (a write of the
 * customer's row and a WAL record), and for each idempotency key answered by an entry, a
 * lookup and lock of that entry. On a 1,000-operation batch these checks were about a tenth of
 * THE posting statement's time, all of it inside the window in which the batch holds its
 * balance rows (bench/RESULTS.md, issue 12).
 *
 * What the checks guaranteed still holds, by these rules:
 * - an entry is written only for a holder whose balance row the same statement updated (THE
 *   posting joins the holder's row, `src/balances/ledger.repository.ts`), or for a holder its
 *   own transaction just created (an opening balance); its actor is the customer of the authenticated caller;
 * - a key's entry is written by the statement that writes the key;
 * - nothing that a ledger entry names is ever removed: ledger entries are immutable (migration
 *   1764100400000), and customers and accounts are deleted by marking them (`deleted_at`),
 *   never by DELETE or TRUNCATE, which the triggers below now refuse.
 */
export class LedgerReferencesByRule1765200000000 implements MigrationInterface {
  name = 'LedgerReferencesByRule1765200000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE ledger_entries
        DROP CONSTRAINT ledger_entries_customer_id_fkey,
        DROP CONSTRAINT ledger_entries_actor_id_fkey,
        DROP CONSTRAINT ledger_entries_account_fk`);
    await q.query(`ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_ledger_entry_id_fkey`);
    await q.query(`
      CREATE FUNCTION ledger_holders_kept() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION '% are deleted by marking them (deleted_at): the ledger refers to them; % refused', TG_TABLE_NAME, TG_OP
          USING ERRCODE = 'restrict_violation';
      END $$`);
    for (const table of ['customers', 'accounts']) {
      await q.query(`CREATE TRIGGER ${table}_never_deleted BEFORE DELETE ON ${table} FOR EACH ROW EXECUTE FUNCTION ledger_holders_kept()`);
      await q.query(`CREATE TRIGGER ${table}_never_truncated BEFORE TRUNCATE ON ${table} FOR EACH STATEMENT EXECUTE FUNCTION ledger_holders_kept()`);
    }
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of ['customers', 'accounts']) {
      await q.query(`DROP TRIGGER ${table}_never_truncated ON ${table}`);
      await q.query(`DROP TRIGGER ${table}_never_deleted ON ${table}`);
    }
    await q.query(`DROP FUNCTION ledger_holders_kept()`);
    await q.query(`ALTER TABLE idempotency_keys ADD CONSTRAINT idempotency_keys_ledger_entry_id_fkey FOREIGN KEY (ledger_entry_id) REFERENCES ledger_entries(id)`);
    await q.query(`
      ALTER TABLE ledger_entries
        ADD CONSTRAINT ledger_entries_customer_id_fkey FOREIGN KEY (customer_id) REFERENCES customers(id),
        ADD CONSTRAINT ledger_entries_actor_id_fkey FOREIGN KEY (actor_id) REFERENCES customers(id),
        ADD CONSTRAINT ledger_entries_account_fk FOREIGN KEY (account_id) REFERENCES accounts(id)`);
  }
}
