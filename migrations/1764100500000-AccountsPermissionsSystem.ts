import { MigrationInterface, QueryRunner } from 'typeorm';

/** Accounts (SPEC §7), system-wide settings and routing groups (SPEC §8). */
export class AccountsPermissionsSystem1764100500000 implements MigrationInterface {
  name = 'AccountsPermissionsSystem1764100500000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE system_settings (
        id boolean PRIMARY KEY DEFAULT true CHECK (id),
        default_time_zone varchar(64),
        default_language varchar(16),
        default_base_currency char(3),
        default_permissions text[] NOT NULL,
        max_depth integer NOT NULL DEFAULT 16 CHECK (max_depth BETWEEN 2 AND 64),
        version integer NOT NULL DEFAULT 1,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      INSERT INTO system_settings (default_permissions) VALUES (ARRAY[
        'customers.create', 'customers.update', 'customers.delete', 'accounts.create', 'accounts.update',
        'accounts.delete', 'tariffs.manage', 'exchange-rates.manage', 'balances.operate', 'permissions.grant',
        'api-keys.manage'])`);

    await q.query(`
      CREATE TABLE routing_groups (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        name varchar(128) NOT NULL UNIQUE,
        description varchar(1024) NOT NULL DEFAULT '',
        policy varchar(16) NOT NULL CHECK (policy IN ('least-cost', 'priority', 'weighted')),
        version integer NOT NULL DEFAULT 1,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`ALTER TABLE customers ADD COLUMN routing_group_id uuid REFERENCES routing_groups(id)`);
    await q.query(`CREATE INDEX customers_routing_group ON customers (routing_group_id) WHERE deleted_at IS NULL AND routing_group_id IS NOT NULL`);

    await q.query(`
      CREATE TABLE accounts (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        customer_id uuid NOT NULL REFERENCES customers(id),
        username varchar(64) NOT NULL,
        web_password_hash text NOT NULL,
        voip_password varchar(128) NOT NULL,
        tariff_id uuid REFERENCES tariffs(id),
        time_zone varchar(64) NOT NULL,
        language varchar(16) NOT NULL,
        balance numeric(38, 8) NOT NULL DEFAULT 0,
        credit_limit numeric(38, 8) NOT NULL DEFAULT 0 CHECK (credit_limit >= 0),
        max_sessions integer NOT NULL DEFAULT 1 CHECK (max_sessions BETWEEN 0 AND 10000),
        status varchar(16) NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'blocked')),
        routing_group_id uuid REFERENCES routing_groups(id),
        version integer NOT NULL DEFAULT 1,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        deleted_at timestamptz
      )`);
    await q.query(`CREATE UNIQUE INDEX accounts_live_username ON accounts (username) WHERE deleted_at IS NULL`);
    await q.query(`CREATE INDEX accounts_customer ON accounts (customer_id, created_at, id) WHERE deleted_at IS NULL`);
    await q.query(`CREATE INDEX accounts_tariff ON accounts (tariff_id) WHERE deleted_at IS NULL`);
    await q.query(`CREATE INDEX accounts_routing_group ON accounts (routing_group_id) WHERE deleted_at IS NULL AND routing_group_id IS NOT NULL`);
    await q.query(`ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_account_fk FOREIGN KEY (account_id) REFERENCES accounts(id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_account_fk`);
    await q.query(`DROP TABLE accounts`);
    await q.query(`ALTER TABLE customers DROP COLUMN routing_group_id`);
    await q.query(`DROP TABLE routing_groups`);
    await q.query(`DROP TABLE system_settings`);
  }
}
