import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Balances move out of `customers` and `accounts` into narrow rows of their own
 * (`customer_balances`, `account_balances`: the holder's id, its parent — a customer's parent,
 * an account's customer —, the balance, the number of postings and the time of the last one,
 * null before any), so that
 * a list can sort and filter by balance through an index (SPEC §15) without making every
 * posting write into every index of the wide holder tables: a balance update changes an
 * indexed column, so it cannot be HOT, but here it writes two small indexes instead of
 * seventeen (measured: test/plans/balance-index-cost.ts, docs/integrators.md).
 *
 * A holder's record shows `version` = the holder's version + its balance row's, and
 * `updatedAt` = the later of the two (GREATEST ignores a null): a posting moves both, as before, without touching the
 * holder's row. The balance row is written for every new holder by a statement trigger, from
 * the holder's `opening_balance` (customers had it; accounts' `balance` column becomes it), so
 * that no insert (the API's, a seed's, a test's) can leave a holder without one.
 *
 * Locks: the balance row is all a posting locks, reads and writes of the holder's mutable
 * state: besides the balance it carries copies of the holder's `credit_limit` and `deleted_at`,
 * written by a trigger in the transaction that changes them. So a change of a credit limit or
 * a deletion waits for a posting in progress on the balance row, and a posting waits for such a
 * change and then decides on the changed row (PostgreSQL re-reads a row it waited for). What
 * else it reads of the holder (path, base currency) never changes.
 */
export class BalanceRows1764600000000 implements MigrationInterface {
  name = 'BalanceRows1764600000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE customer_balances (
        customer_id uuid PRIMARY KEY REFERENCES customers (id),
        parent_id uuid,
        balance numeric(38, 8) NOT NULL,
        credit_limit numeric(38, 8) NOT NULL,
        deleted_at timestamptz,
        version integer NOT NULL DEFAULT 0,
        updated_at timestamptz
      )`);
    await q.query(`
      INSERT INTO customer_balances (customer_id, parent_id, balance, credit_limit, deleted_at)
      SELECT id, parent_id, balance, credit_limit, deleted_at FROM customers`);
    await q.query(`CREATE INDEX customer_balances_children ON customer_balances (parent_id, balance, customer_id)`);
    await q.query(`ALTER TABLE customers DROP COLUMN balance`);

    await q.query(`
      CREATE TABLE account_balances (
        account_id uuid PRIMARY KEY REFERENCES accounts (id),
        customer_id uuid NOT NULL,
        balance numeric(38, 8) NOT NULL,
        credit_limit numeric(38, 8) NOT NULL,
        deleted_at timestamptz,
        version integer NOT NULL DEFAULT 0,
        updated_at timestamptz
      )`);
    await q.query(`
      INSERT INTO account_balances (account_id, customer_id, balance, credit_limit, deleted_at)
      SELECT id, customer_id, balance, credit_limit, deleted_at FROM accounts`);
    await q.query(`CREATE INDEX account_balances_customer ON account_balances (customer_id, balance, account_id)`);
    // The opening balance, as customers keep theirs: what the account was created with.
    await q.query(`ALTER TABLE accounts RENAME COLUMN balance TO opening_balance`);
    await q.query(`
      UPDATE accounts a SET opening_balance = COALESCE((SELECT e.converted_amount FROM ledger_entries e
                                                         WHERE e.account_id = a.id AND e.action = 'opening_balance'), 0)`);

    await q.query(`
      CREATE FUNCTION customer_balance_rows() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO customer_balances (customer_id, parent_id, balance, credit_limit, deleted_at)
        SELECT n.id, n.parent_id, n.opening_balance, n.credit_limit, n.deleted_at FROM new_rows n;
        RETURN NULL;
      END $$`);
    await q.query(`
      CREATE TRIGGER customers_balance_rows AFTER INSERT ON customers
      REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION customer_balance_rows()`);
    await q.query(`
      CREATE FUNCTION account_balance_rows() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO account_balances (account_id, customer_id, balance, credit_limit, deleted_at)
        SELECT n.id, n.customer_id, n.opening_balance, n.credit_limit, n.deleted_at FROM new_rows n;
        RETURN NULL;
      END $$`);
    await q.query(`
      CREATE TRIGGER accounts_balance_rows AFTER INSERT ON accounts
      REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION account_balance_rows()`);
    // What a posting decides on besides the balance, copied into the balance row by the change
    // that makes it, in the same transaction: the balance row is all a posting locks and reads.
    for (const [table, key] of [
      ['customer', 'customer_id'],
      ['account', 'account_id'],
    ]) {
      await q.query(`
        CREATE FUNCTION ${table}_balance_terms() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          UPDATE ${table}_balances SET credit_limit = NEW.credit_limit, deleted_at = NEW.deleted_at WHERE ${key} = NEW.id;
          RETURN NULL;
        END $$`);
      await q.query(`
        CREATE TRIGGER ${table}s_balance_terms AFTER UPDATE OF credit_limit, deleted_at ON ${table}s
        FOR EACH ROW WHEN (OLD.credit_limit IS DISTINCT FROM NEW.credit_limit OR OLD.deleted_at IS DISTINCT FROM NEW.deleted_at)
        EXECUTE FUNCTION ${table}_balance_terms()`);
    }
    await q.query(`ANALYZE customer_balances`);
    await q.query(`ANALYZE account_balances`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TRIGGER accounts_balance_terms ON accounts`);
    await q.query(`DROP TRIGGER customers_balance_terms ON customers`);
    await q.query(`DROP FUNCTION account_balance_terms()`);
    await q.query(`DROP FUNCTION customer_balance_terms()`);
    await q.query(`DROP TRIGGER accounts_balance_rows ON accounts`);
    await q.query(`DROP TRIGGER customers_balance_rows ON customers`);
    await q.query(`DROP FUNCTION account_balance_rows()`);
    await q.query(`DROP FUNCTION customer_balance_rows()`);
    await q.query(`ALTER TABLE accounts RENAME COLUMN opening_balance TO balance`);
    await q.query(`UPDATE accounts a SET balance = b.balance, version = a.version + b.version FROM account_balances b WHERE b.account_id = a.id`);
    await q.query(`ALTER TABLE customers ADD COLUMN balance numeric(38, 8) NOT NULL DEFAULT 0`);
    await q.query(`UPDATE customers c SET balance = b.balance, version = c.version + b.version FROM customer_balances b WHERE b.customer_id = c.id`);
    await q.query(`DROP TABLE account_balances`);
    await q.query(`DROP TABLE customer_balances`);
  }
}
