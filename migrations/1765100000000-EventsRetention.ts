import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Events, and webhook deliveries no longer pending, are kept `EVENTS_RETENTION_DAYS`
 * (src/events/pruner.ts, src/webhooks/deliveries-pruner.ts): the oldest events are deleted, in
 * sequence order, by one instance at a time (the relay's advisory lock); deliveries by age.
 *
 * - `event_relay_position.events_pruned_through`: every event up to this sequence is gone (0:
 *   none yet). The feed answers a reader asking from below it `410 events-expired` instead of
 *   silently skipping what it has not seen (SPEC §14: no gaps).
 * - `webhook_deliveries_pending_event`: the lowest sequence a pending delivery still has to
 *   send (its attempts read the event's body), found without reading every delivery: the
 *   pruner never deletes from there on.
 * - `webhook_deliveries_settled_age`: the deliveries no longer pending, oldest first (deleted
 *   with their attempts past the retention).
 */
export class EventsRetention1765100000000 implements MigrationInterface {
  name = 'EventsRetention1765100000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE event_relay_position ADD COLUMN events_pruned_through bigint NOT NULL DEFAULT 0`);
    await q.query(`CREATE INDEX webhook_deliveries_pending_event ON webhook_deliveries (event_sequence) WHERE status = 'pending'`);
    await q.query(`CREATE INDEX webhook_deliveries_settled_age ON webhook_deliveries (created_at) WHERE status <> 'pending'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX webhook_deliveries_settled_age`);
    await q.query(`DROP INDEX webhook_deliveries_pending_event`);
    await q.query(`ALTER TABLE event_relay_position DROP COLUMN events_pruned_through`);
  }
}
