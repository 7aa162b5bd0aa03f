import { MigrationInterface, QueryRunner } from 'typeorm';
import { callerChangedFunctionSql } from './caller-changed-sql';

/**
 * Account self-care (SPEC §2): an account logs in with its SIP username and web password and
 * becomes an account principal (src/tree/caller.ts).
 * - `accounts.auth_epoch`: like the customers', bumped whenever the web password changes (by
 *   the account itself or by a customer above it: a BEFORE trigger, so no write path can
 *   forget it); an access token of an older epoch is refused.
 * - The cached account principals are evicted like customers (see 1764200000000-CallerChanges):
 *   a change of what such a caller is made of (status, deletion, epoch, language, owner)
 *   announces `a:<account id>` (`UPDATE OF` lists `web_password_hash` too: an `UPDATE OF`
 *   trigger fires only for columns the statement names, and the epoch is moved by the BEFORE
 *   trigger, not by the statement); its customer's and ancestors' changes already announce
 *   `n:<node>`, which evicts the accounts below that node too.
 * - `refresh_tokens.account_id`: a refresh token of an account principal (its `customer_id`
 *   is the account's customer, for the foreign key and the customer's deletion).
 */
export class AccountLogins1764500400000 implements MigrationInterface {
  name = 'AccountLogins1764500400000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE accounts ADD COLUMN auth_epoch integer NOT NULL DEFAULT 1`);
    await q.query(`
      CREATE FUNCTION accounts_password_changed() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        NEW.auth_epoch := OLD.auth_epoch + 1;
        RETURN NEW;
      END $$`);
    await q.query(`
      CREATE TRIGGER accounts_password_changed
        BEFORE UPDATE OF web_password_hash ON accounts
        FOR EACH ROW
        WHEN (OLD.web_password_hash IS DISTINCT FROM NEW.web_password_hash)
        EXECUTE FUNCTION accounts_password_changed()`);

    await q.query(callerChangedFunctionSql('accounts_caller_changed', 'a', 'id'));
    await q.query(`
      CREATE TRIGGER accounts_caller_changed
        AFTER UPDATE OF status, deleted_at, auth_epoch, web_password_hash, language, customer_id ON accounts
        FOR EACH ROW
        WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.deleted_at IS DISTINCT FROM NEW.deleted_at
           OR OLD.auth_epoch IS DISTINCT FROM NEW.auth_epoch OR OLD.language IS DISTINCT FROM NEW.language
           OR OLD.customer_id IS DISTINCT FROM NEW.customer_id)
        EXECUTE FUNCTION accounts_caller_changed()`);
    await q.query(`CREATE TRIGGER accounts_caller_deleted AFTER DELETE ON accounts FOR EACH ROW EXECUTE FUNCTION accounts_caller_changed()`);
    await q.query(`CREATE TRIGGER accounts_callers_truncated AFTER TRUNCATE ON accounts FOR EACH STATEMENT EXECUTE FUNCTION callers_truncated()`);

    await q.query(`ALTER TABLE refresh_tokens ADD COLUMN account_id uuid REFERENCES accounts(id)`);
    await q.query(`CREATE INDEX refresh_tokens_account ON refresh_tokens (account_id) WHERE revoked_at IS NULL AND account_id IS NOT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX refresh_tokens_account`);
    await q.query(`ALTER TABLE refresh_tokens DROP COLUMN account_id`);
    await q.query(`DROP TRIGGER accounts_callers_truncated ON accounts`);
    await q.query(`DROP TRIGGER accounts_caller_deleted ON accounts`);
    await q.query(`DROP TRIGGER accounts_caller_changed ON accounts`);
    await q.query(`DROP FUNCTION accounts_caller_changed()`);
    await q.query(`DROP TRIGGER accounts_password_changed ON accounts`);
    await q.query(`DROP FUNCTION accounts_password_changed()`);
    await q.query(`ALTER TABLE accounts DROP COLUMN auth_epoch`);
  }
}
