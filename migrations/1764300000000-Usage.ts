import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Usage (SPEC §13): calls rated at every level of the tree below the root.
 *
 * - `calls`: one row per call, claimed per poster (`UNIQUE (poster_id, call_id)`: the
 *   idempotency of `POST /v1/calls`, forever). `customer_path` is the path of the account's
 *   customer: a call is visible to that customer and everyone above it.
 * - `call_charges`: one row per charged party (level 0 = the account, 1 = its customer, …,
 *   up to the root's direct sub-customer), with the price its seller set. Each row is also
 *   the seller's view of the call: `revenue` (this charge in the seller's base currency,
 *   with the seller's table) and `seller_cost` (the seller's own charge on the same call, in
 *   its base currency; 0 for the root). A viewer's calls are the rows it sold
 *   (`seller_id` = viewer): one per call of its subtree.
 * - `usage_daily`: the same rows summed per seller, local day (in the seller's time zone
 *   when the call was rated, kept in the key), account and prefix, maintained in the
 *   posting's transaction: `GET /v1/usage` reads these instead of every call.
 *
 * No foreign keys on these tables: they are written only by the usage posting, after the
 * charged holders are locked, and FK checks would cost a lookup per row at thousands of
 * rows per batch. The ledger entries they point to keep their own constraints.
 */
export class Usage1764300000000 implements MigrationInterface {
  name = 'Usage1764300000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_action_check`);
    await q.query(`ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_action_check
                     CHECK (action IN ('opening_balance', 'add_funds', 'credit', 'debit', 'usage'))`);

    await q.query(`
      CREATE TABLE calls (
        id uuid PRIMARY KEY,
        seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
        poster_id uuid NOT NULL,
        call_id varchar(128) NOT NULL,
        account_id uuid NOT NULL,
        customer_id uuid NOT NULL,
        customer_path text COLLATE "C" NOT NULL,
        number varchar(33) NOT NULL,
        connect_time timestamptz NOT NULL,
        duration integer NOT NULL CHECK (duration BETWEEN 0 AND 86400),
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT calls_poster_call_id UNIQUE (poster_id, call_id)
      )`);
    await q.query(`CREATE INDEX calls_account ON calls (account_id, connect_time DESC, id)`);

    await q.query(`
      CREATE TABLE call_charges (
        call_uuid uuid NOT NULL,
        level smallint NOT NULL CHECK (level >= 0),
        party_kind varchar(8) NOT NULL CHECK (party_kind IN ('account', 'customer')),
        party_id uuid NOT NULL,
        party_depth integer NOT NULL,
        seller_id uuid NOT NULL,
        tariff_id uuid NOT NULL,
        prefix varchar(32) COLLATE "C" NOT NULL,
        price numeric(38, 8) NOT NULL,
        billed_seconds integer NOT NULL,
        amount numeric(38, 8) NOT NULL CHECK (amount >= 0),
        currency currency_code NOT NULL,
        exchange_rate numeric(38, 12) NOT NULL,
        converted_amount numeric(38, 8) NOT NULL CHECK (converted_amount >= 0),
        charged_currency currency_code NOT NULL,
        ledger_entry_id uuid,
        revenue numeric(38, 8) NOT NULL,
        seller_cost numeric(38, 8) NOT NULL,
        seller_currency currency_code NOT NULL,
        account_id uuid NOT NULL,
        customer_id uuid NOT NULL,
        customer_path text COLLATE "C" NOT NULL,
        number varchar(33) NOT NULL,
        connect_time timestamptz NOT NULL,
        duration integer NOT NULL,
        PRIMARY KEY (call_uuid, level)
      )`);
    await q.query(`CREATE INDEX call_charges_seller ON call_charges (seller_id, connect_time DESC, call_uuid)`);
    await q.query(`CREATE INDEX call_charges_entry ON call_charges (ledger_entry_id) WHERE ledger_entry_id IS NOT NULL`);

    await q.query(`
      CREATE TABLE usage_daily (
        seller_id uuid NOT NULL,
        time_zone varchar(64) NOT NULL,
        day date NOT NULL,
        account_id uuid NOT NULL,
        customer_id uuid NOT NULL,
        customer_path text COLLATE "C" NOT NULL,
        prefix varchar(32) COLLATE "C" NOT NULL,
        calls bigint NOT NULL,
        seconds bigint NOT NULL,
        billed_seconds bigint NOT NULL,
        revenue numeric(38, 8) NOT NULL,
        cost numeric(38, 8) NOT NULL,
        PRIMARY KEY (seller_id, time_zone, day, account_id, prefix)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE usage_daily`);
    await q.query(`DROP TABLE call_charges`);
    await q.query(`DROP TABLE calls`);
    await q.query(`ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_action_check`);
    await q.query(`ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_action_check
                     CHECK (action IN ('opening_balance', 'add_funds', 'credit', 'debit'))`);
  }
}
