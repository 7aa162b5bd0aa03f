import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The customer tree as a materialized path: `path` lists the node ids from the root down
 * ('/1/7/42/'), in the "C" collation so that a subtree is one B-tree range scan
 * (`path LIKE '/1/7/%'`) on any server locale. Portable SQL: no ltree, no recursive CTE.
 */
export class CustomerTree1764100100000 implements MigrationInterface {
  name = 'CustomerTree1764100100000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE customers (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        node_id bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
        parent_id uuid REFERENCES customers(id),
        path text COLLATE "C" NOT NULL UNIQUE,
        depth integer NOT NULL CHECK (depth >= 0),
        name varchar(128) NOT NULL,
        tariff_id uuid,
        time_zone varchar(64) NOT NULL,
        language varchar(16) NOT NULL,
        web_login varchar(64) NOT NULL,
        web_password_hash text NOT NULL,
        base_currency char(3) NOT NULL,
        balance numeric(38, 8) NOT NULL DEFAULT 0,
        opening_balance numeric(38, 8) NOT NULL DEFAULT 0,
        credit_limit numeric(38, 8) NOT NULL DEFAULT 0 CHECK (credit_limit >= 0),
        status varchar(16) NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
        permissions text[] NOT NULL DEFAULT '{}',
        auth_epoch integer NOT NULL DEFAULT 1,
        version integer NOT NULL DEFAULT 1,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        deleted_at timestamptz,
        CHECK ((parent_id IS NULL) = (depth = 0))
      )`);
    await q.query(`CREATE UNIQUE INDEX customers_root ON customers ((true)) WHERE parent_id IS NULL`);
    await q.query(`CREATE UNIQUE INDEX customers_live_login ON customers (lower(web_login)) WHERE deleted_at IS NULL`);
    await q.query(`CREATE UNIQUE INDEX customers_live_sibling_name ON customers (parent_id, name) WHERE deleted_at IS NULL`);
    await q.query(`CREATE INDEX customers_children ON customers (parent_id, path) WHERE deleted_at IS NULL`);
    await q.query(`CREATE INDEX customers_tariff ON customers (tariff_id) WHERE deleted_at IS NULL`);

    await q.query(`
      CREATE TABLE tariffs (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        owner_id uuid NOT NULL REFERENCES customers(id),
        name varchar(128) NOT NULL,
        currency char(3) NOT NULL,
        description varchar(1024) NOT NULL DEFAULT '',
        connect_fee numeric(38, 8) NOT NULL DEFAULT 0 CHECK (connect_fee >= 0),
        free_seconds integer NOT NULL DEFAULT 0 CHECK (free_seconds >= 0),
        version integer NOT NULL DEFAULT 1,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE UNIQUE INDEX tariffs_owner_name ON tariffs (owner_id, name)`);
    await q.query(`ALTER TABLE customers ADD CONSTRAINT customers_tariff_fk FOREIGN KEY (tariff_id) REFERENCES tariffs(id)`);

    await q.query(`
      CREATE TABLE api_keys (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        customer_id uuid NOT NULL REFERENCES customers(id),
        name varchar(128) NOT NULL,
        prefix varchar(16) NOT NULL UNIQUE,
        secret_hash text NOT NULL,
        permissions text[],
        expires_at timestamptz,
        revoked_at timestamptz,
        last_used_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX api_keys_customer ON api_keys (customer_id, created_at, id)`);

    await q.query(`
      CREATE TABLE refresh_tokens (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        family_id uuid NOT NULL,
        customer_id uuid NOT NULL REFERENCES customers(id),
        api_key_id uuid REFERENCES api_keys(id),
        token_hash char(64) NOT NULL UNIQUE,
        auth_epoch integer NOT NULL,
        expires_at timestamptz NOT NULL,
        used_at timestamptz,
        revoked_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id)`);
    await q.query(`CREATE INDEX refresh_tokens_customer ON refresh_tokens (customer_id) WHERE revoked_at IS NULL`);

    // Login failure counters (rate-limiter-flexible's RateLimiterPostgres table layout).
    await q.query(`
      CREATE TABLE login_rate_limits (
        key varchar(255) PRIMARY KEY,
        points integer NOT NULL DEFAULT 0,
        expire bigint
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE login_rate_limits`);
    await q.query(`DROP TABLE refresh_tokens`);
    await q.query(`DROP TABLE api_keys`);
    await q.query(`ALTER TABLE customers DROP CONSTRAINT customers_tariff_fk`);
    await q.query(`DROP TABLE tariffs`);
    await q.query(`DROP TABLE customers`);
  }
}
