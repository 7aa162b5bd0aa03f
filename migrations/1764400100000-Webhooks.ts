import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Webhooks (SPEC §14): endpoints, their deliveries and every attempt, and the dispatcher's
 * position in the feed (`events.sequence`). Delivery jobs live in pg-boss's own schema
 * (`pgboss`, created and upgraded by pg-boss itself when the app starts).
 *
 * `webhooks.manage` joins the default set of new customers and the root's grants; customers
 * that already manage their API keys (the integration right) are granted it too, so that an
 * upgraded installation can use webhooks without a round of grants from the top.
 */
export class Webhooks1764400100000 implements MigrationInterface {
  name = 'Webhooks1764400100000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE webhook_endpoints (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        owner_id uuid NOT NULL REFERENCES customers(id),
        url varchar(2048) NOT NULL,
        event_types text[] NOT NULL,
        description varchar(1024) NOT NULL DEFAULT '',
        secret text NOT NULL,
        status varchar(16) NOT NULL DEFAULT 'enabled' CONSTRAINT webhook_endpoints_status CHECK (status IN ('enabled', 'disabled')),
        disabled_reason text,
        failing_since timestamptz,
        version integer NOT NULL DEFAULT 1,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        deleted_at timestamptz
      )`);
    await q.query(`CREATE INDEX webhook_endpoints_owner ON webhook_endpoints (owner_id, created_at, id) WHERE deleted_at IS NULL`);
    await q.query(`CREATE INDEX webhook_endpoints_enabled ON webhook_endpoints (owner_id) WHERE deleted_at IS NULL AND status = 'enabled'`);

    await q.query(`
      CREATE TABLE webhook_deliveries (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        endpoint_id uuid NOT NULL REFERENCES webhook_endpoints(id),
        event_id uuid NOT NULL,
        event_sequence bigint,
        event_type varchar(64) NOT NULL,
        -- Only for events outside the feed (webhook.test): the body to send.
        payload jsonb,
        status varchar(16) NOT NULL DEFAULT 'pending' CONSTRAINT webhook_deliveries_status CHECK (status IN ('pending', 'delivered', 'failed')),
        attempt_count integer NOT NULL DEFAULT 0,
        next_attempt_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT webhook_deliveries_once UNIQUE (endpoint_id, event_id)
      )`);
    await q.query(`CREATE INDEX webhook_deliveries_newest ON webhook_deliveries (endpoint_id, created_at DESC, id DESC)`);

    await q.query(`
      CREATE TABLE webhook_attempts (
        delivery_id uuid NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
        n integer NOT NULL,
        attempted_at timestamptz NOT NULL,
        status_code integer,
        error varchar(512),
        duration_ms integer NOT NULL,
        PRIMARY KEY (delivery_id, n)
      )`);

    await q.query(`
      CREATE TABLE webhook_dispatch_position (
        id boolean PRIMARY KEY DEFAULT true CHECK (id),
        sequence bigint NOT NULL
      )`);
    // Endpoints receive events that occur after they are made: the dispatcher starts at the feed's end.
    await q.query(`INSERT INTO webhook_dispatch_position (sequence) SELECT COALESCE(max(sequence), 0) FROM events`);

    await q.query(`
      UPDATE system_settings SET default_permissions = default_permissions || ARRAY['webhooks.manage']
       WHERE NOT ('webhooks.manage' = ANY (default_permissions))`);
    await q.query(`
      UPDATE customers SET permissions = permissions || ARRAY['webhooks.manage']
       WHERE (parent_id IS NULL OR 'api-keys.manage' = ANY (permissions)) AND NOT ('webhooks.manage' = ANY (permissions))`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`UPDATE customers SET permissions = array_remove(permissions, 'webhooks.manage')`);
    await q.query(`UPDATE system_settings SET default_permissions = array_remove(default_permissions, 'webhooks.manage')`);
    await q.query(`DROP TABLE webhook_dispatch_position`);
    await q.query(`DROP TABLE webhook_attempts`);
    await q.query(`DROP TABLE webhook_deliveries`);
    await q.query(`DROP TABLE webhook_endpoints`);
    await q.query(`DROP SCHEMA IF EXISTS pgboss CASCADE`);
  }
}
