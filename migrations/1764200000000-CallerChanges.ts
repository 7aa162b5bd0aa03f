import { MigrationInterface, QueryRunner } from 'typeorm';
import { callerChangedFunctionSql } from './caller-changed-sql';

/**
 * Callers are cached in memory (src/auth/caller-cache.ts); the database itself says when one
 * changes, so that no feature can forget to. Triggers on every column a Caller is made of
 * call `canopy_caller_changed(payload)`, which
 * - `pg_notify`s the channel `canopy_callers` (delivered to every instance's listener at
 *   commit, identical payloads of one transaction once), and
 * - appends the payload to the transaction-local setting `canopy.callers_changed`, which the
 *   write path reads back before commit to evict on its own instance at once.
 * Payloads: `n:<node_id>` a customer changed (evicts every cached caller whose path holds that
 * node: the customer and its whole subtree), `k:<api key id>` a key changed, `c:<customer id>`
 * a customer's exchange-rate table changed, `*` everything (TRUNCATE, or a bulk change: past
 * about 4,000 characters of payloads a transaction announces `*` once and nothing more, so a
 * statement over many rows costs linear time and sends few notifications).
 * Column lists and WHEN clauses keep postings (balance, version, updated_at) and the key
 * exchange (last_used_at) free of any trigger.
 */
export class CallerChanges1764200000000 implements MigrationInterface {
  name = 'CallerChanges1764200000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE FUNCTION canopy_caller_changed(payload text) RETURNS void LANGUAGE plpgsql AS $$
      DECLARE
        seen text := coalesce(current_setting('canopy.callers_changed', true), '');
      BEGIN
        IF seen = '*' THEN
          RETURN; -- everything is already announced
        ELSIF length(seen) > 4000 THEN
          -- A bulk change: one "everything" instead of thousands of payloads (and linear cost).
          PERFORM pg_notify('canopy_callers', '*');
          PERFORM set_config('canopy.callers_changed', '*', true);
        ELSIF position(' ' || payload || ' ' IN ' ' || seen || ' ') = 0 THEN
          PERFORM pg_notify('canopy_callers', payload);
          PERFORM set_config('canopy.callers_changed', ltrim(seen || ' ' || payload), true);
        END IF;
      END $$`);

    await q.query(callerChangedFunctionSql('customers_caller_changed', 'n', 'node_id'));
    await q.query(`
      CREATE TRIGGER customers_caller_changed
        AFTER UPDATE OF status, permissions, auth_epoch, deleted_at, path, depth, parent_id, base_currency ON customers
        FOR EACH ROW
        WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.permissions IS DISTINCT FROM NEW.permissions
           OR OLD.auth_epoch IS DISTINCT FROM NEW.auth_epoch OR OLD.deleted_at IS DISTINCT FROM NEW.deleted_at
           OR OLD.path IS DISTINCT FROM NEW.path OR OLD.depth IS DISTINCT FROM NEW.depth
           OR OLD.parent_id IS DISTINCT FROM NEW.parent_id OR OLD.base_currency IS DISTINCT FROM NEW.base_currency)
        EXECUTE FUNCTION customers_caller_changed()`);
    await q.query(`CREATE TRIGGER customers_caller_deleted AFTER DELETE ON customers FOR EACH ROW EXECUTE FUNCTION customers_caller_changed()`);

    await q.query(callerChangedFunctionSql('api_keys_caller_changed', 'k', 'id'));
    await q.query(`
      CREATE TRIGGER api_keys_caller_changed
        AFTER UPDATE OF revoked_at, expires_at, permissions, customer_id ON api_keys
        FOR EACH ROW
        WHEN (OLD.revoked_at IS DISTINCT FROM NEW.revoked_at OR OLD.expires_at IS DISTINCT FROM NEW.expires_at
           OR OLD.permissions IS DISTINCT FROM NEW.permissions OR OLD.customer_id IS DISTINCT FROM NEW.customer_id)
        EXECUTE FUNCTION api_keys_caller_changed()`);
    await q.query(`CREATE TRIGGER api_keys_caller_deleted AFTER DELETE ON api_keys FOR EACH ROW EXECUTE FUNCTION api_keys_caller_changed()`);

    // A caller carries its own exchange-rate table: any row added, changed or removed.
    await q.query(`
      CREATE FUNCTION exchange_rates_caller_changed() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP <> 'INSERT' THEN PERFORM canopy_caller_changed('c:' || OLD.customer_id); END IF;
        IF TG_OP <> 'DELETE' THEN PERFORM canopy_caller_changed('c:' || NEW.customer_id); END IF;
        RETURN NULL;
      END $$`);
    await q.query(`CREATE TRIGGER exchange_rates_caller_added AFTER INSERT OR DELETE ON exchange_rates FOR EACH ROW EXECUTE FUNCTION exchange_rates_caller_changed()`);
    await q.query(`
      CREATE TRIGGER exchange_rates_caller_changed
        AFTER UPDATE OF rate, currency, customer_id ON exchange_rates
        FOR EACH ROW
        WHEN (OLD.rate IS DISTINCT FROM NEW.rate OR OLD.currency IS DISTINCT FROM NEW.currency OR OLD.customer_id IS DISTINCT FROM NEW.customer_id)
        EXECUTE FUNCTION exchange_rates_caller_changed()`);

    await q.query(`
      CREATE FUNCTION callers_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        PERFORM canopy_caller_changed('*');
        RETURN NULL;
      END $$`);
    for (const table of ['customers', 'api_keys', 'exchange_rates']) {
      await q.query(`CREATE TRIGGER ${table}_callers_truncated AFTER TRUNCATE ON ${table} FOR EACH STATEMENT EXECUTE FUNCTION callers_truncated()`);
    }
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of ['customers', 'api_keys', 'exchange_rates']) await q.query(`DROP TRIGGER ${table}_callers_truncated ON ${table}`);
    await q.query(`DROP TRIGGER exchange_rates_caller_changed ON exchange_rates`);
    await q.query(`DROP TRIGGER exchange_rates_caller_added ON exchange_rates`);
    await q.query(`DROP TRIGGER api_keys_caller_deleted ON api_keys`);
    await q.query(`DROP TRIGGER api_keys_caller_changed ON api_keys`);
    await q.query(`DROP TRIGGER customers_caller_deleted ON customers`);
    await q.query(`DROP TRIGGER customers_caller_changed ON customers`);
    await q.query(`DROP FUNCTION callers_truncated()`);
    await q.query(`DROP FUNCTION exchange_rates_caller_changed()`);
    await q.query(`DROP FUNCTION api_keys_caller_changed()`);
    await q.query(`DROP FUNCTION customers_caller_changed()`);
    await q.query(`DROP FUNCTION canopy_caller_changed(text)`);
  }
}
