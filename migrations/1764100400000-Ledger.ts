import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The ledger (append-only: the database itself refuses UPDATE and DELETE), idempotency keys
 * (kept in PostgreSQL so they hold across instances), and audit events.
 */
export class Ledger1764100400000 implements MigrationInterface {
  name = 'Ledger1764100400000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE ledger_entries (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
        customer_id uuid REFERENCES customers(id),
        account_id uuid,
        action varchar(16) NOT NULL CHECK (action IN ('opening_balance', 'add_funds', 'credit', 'debit')),
        amount numeric(38, 8) NOT NULL,
        currency char(3) NOT NULL,
        exchange_rate numeric(38, 12) NOT NULL CHECK (exchange_rate > 0),
        converted_amount numeric(38, 8) NOT NULL,
        balance_after numeric(38, 8) NOT NULL,
        notes varchar(1024),
        actor_id uuid REFERENCES customers(id),
        idempotency_key varchar(255),
        created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
        CHECK ((customer_id IS NULL) <> (account_id IS NULL)),
        CHECK (action = 'opening_balance' OR amount > 0)
      )`);
    await q.query(`CREATE INDEX ledger_entries_customer ON ledger_entries (customer_id, seq DESC) WHERE customer_id IS NOT NULL`);
    await q.query(`CREATE INDEX ledger_entries_account ON ledger_entries (account_id, seq DESC) WHERE account_id IS NOT NULL`);
    await q.query(`
      CREATE FUNCTION ledger_entries_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'ledger entries are immutable: % refused', TG_OP USING ERRCODE = 'restrict_violation';
      END $$`);
    await q.query(`
      CREATE TRIGGER ledger_entries_no_update_or_delete BEFORE UPDATE OR DELETE ON ledger_entries
      FOR EACH ROW EXECUTE FUNCTION ledger_entries_immutable()`);
    await q.query(`
      CREATE TRIGGER ledger_entries_no_truncate BEFORE TRUNCATE ON ledger_entries
      FOR EACH STATEMENT EXECUTE FUNCTION ledger_entries_immutable()`);

    await q.query(`
      CREATE TABLE idempotency_keys (
        caller_id uuid NOT NULL,
        key varchar(255) NOT NULL,
        fingerprint char(64) NOT NULL,
        status smallint,
        response_body jsonb,
        response_headers jsonb,
        created_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL,
        PRIMARY KEY (caller_id, key)
      )`);
    await q.query(`CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at)`);

    await q.query(`
      CREATE TABLE audit_events (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
        at timestamptz NOT NULL DEFAULT clock_timestamp(),
        actor_id uuid,
        action varchar(64) NOT NULL,
        target_type varchar(32) NOT NULL,
        target_id text,
        subject_path text COLLATE "C" NOT NULL,
        changes jsonb,
        request_id varchar(128),
        client_address varchar(64)
      )`);
    await q.query(`CREATE INDEX audit_events_subject ON audit_events (subject_path, seq DESC)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE audit_events`);
    await q.query(`DROP TABLE idempotency_keys`);
    await q.query(`DROP TABLE ledger_entries`);
    await q.query(`DROP FUNCTION ledger_entries_immutable`);
  }
}
