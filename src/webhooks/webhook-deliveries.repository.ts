import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Cursors, Page } from '../common/pagination';
import { Keyset } from '../database/keyset';
import { preparedQuery } from '../database/prepared';
import { returnedRows, sqlLimit, SqlParams } from '../database/sql';
import type { Tx } from '../database/writes';
import { visibleActorSql } from '../tree/scope';
import { ledgerEventDataSql, ledgerEventEntryJoin } from '../events/ledger-events';

export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

export interface AttemptRow {
  n: number;
  attempted_at: string;
  status_code: number | null;
  error: string | null;
  duration_ms: number;
}

export interface DeliveryRow {
  id: string;
  endpoint_id: string;
  event_id: string;
  event_sequence: string | null;
  event_type: string;
  status: DeliveryStatus;
  attempt_count: number;
  next_attempt_at: Date | null;
  created_at: Date;
  /** The latest attempts, oldest first (see ATTEMPTS_SHOWN). */
  attempts: AttemptRow[];
}

/** What the worker needs to make one attempt of a delivery. */
export interface DeliveryWork {
  id: string;
  status: DeliveryStatus;
  attempt_count: number;
  created_at: Date;
  event_id: string;
  event_type: string;
  /** The body of an event outside the feed (webhook.test). */
  payload: Record<string, unknown> | null;
  endpoint_id: string;
  url: string;
  secret: string;
  endpoint_status: 'enabled' | 'disabled';
  endpoint_deleted: boolean;
  /** The event's row in the feed (null for a test event). */
  sequence: string | null;
  type: string | null;
  occurred_at: Date | null;
  subject_type: string | null;
  subject_id: string | null;
  actor_id: string | null;
  data: unknown;
  /** The actor lies in the endpoint owner's subtree (otherwise it is shown as null, as audit does). */
  actor_visible: boolean;
}

/** One attempt as recorded, with the delivery's state after it. */
export interface RecordedAttempt {
  id: string;
  n: number;
  status: DeliveryStatus;
  nextAttemptAt: Date | null;
  attemptedAt: Date;
  statusCode: number | null;
  error: string | null;
  durationMs: number;
}

/** A pg-boss `db` that runs its statements on our transaction's connection. */
export interface JobDb {
  executeSql(text: string, values?: unknown[]): Promise<{ rows: unknown[] }>;
}

/** How many of a delivery's latest attempts the list shows (with the total count). */
export const ATTEMPTS_SHOWN = 25;

/** A constant key for the dispatcher's advisory lock ("canopy.webhook-dispatch"). */
const DISPATCH_LOCK = 7_400_100_001;

/** One endpoint's deliveries, newest first. */
const deliveriesOf = (endpointId: string) =>
  new Keyset(
    `webhook-deliveries:${endpointId}`,
    [
      { sql: 'd.created_at', type: 'timestamp' },
      { sql: 'd.id', type: 'uuid' },
    ],
    'desc',
  );

const DELIVERY_COLUMNS = `d.id, d.endpoint_id, d.event_id, d.event_sequence::text AS event_sequence, d.event_type, d.status, d.attempt_count,
  d.next_attempt_at, d.created_at,
  COALESCE((SELECT json_agg(a ORDER BY a.n) FROM (
     SELECT wa.n, wa.attempted_at, wa.status_code, wa.error, wa.duration_ms FROM webhook_attempts wa
      WHERE wa.delivery_id = d.id ORDER BY wa.n DESC LIMIT ${ATTEMPTS_SHOWN}) a), '[]'::json) AS attempts`;

/**
 * Deliveries, their attempts and the dispatcher's position in the feed. The endpoint's
 * visibility is checked by the service first (the endpoint repository); these methods take
 * endpoints already found visible, or are the dispatcher's and worker's own (`unscoped…`:
 * they act for every endpoint, with no caller).
 */
@Injectable()
export class WebhookDeliveriesRepository {
  constructor(
    private readonly dataSource: DataSource,
    private readonly cursors: Cursors,
  ) {}

  /** pg-boss statements on `tx`'s connection, so a job is enqueued in the transaction that decides it. */
  jobDb(tx: Tx): JobDb {
    return { executeSql: async (text, values) => ({ rows: returnedRows<unknown>(await tx.query(text, values)) }) };
  }

  /** pg-boss statements on a pooled connection (no transaction of ours). */
  poolJobDb(): JobDb {
    return { executeSql: async (text, values) => ({ rows: returnedRows<unknown>(await this.dataSource.query(text, values)) }) };
  }

  /** The database's URL for the job queue's own connections; undefined without a database (the OpenAPI export). */
  unscopedConnectionUrl(): string | undefined {
    return this.dataSource.isInitialized ? (this.dataSource.options as { url?: string }).url : undefined;
  }

  /** A page of an endpoint's deliveries (the endpoint found visible by the caller), newest first. */
  async list(endpointId: string, cursor: string | undefined, limit: number): Promise<Page<DeliveryRow>> {
    const keyset = deliveriesOf(endpointId);
    const params = new SqlParams();
    const where = [`d.endpoint_id = ${params.add(endpointId)}`];
    const after = await keyset.after(this.cursors, cursor, params);
    if (after) where.push(after);
    const rows: DeliveryRow[] = await this.dataSource.query(
      `SELECT ${DELIVERY_COLUMNS}, ${keyset.select()} FROM webhook_deliveries d WHERE ${where.join(' AND ')} ${keyset.orderAndLimit(limit, params)}`,
      params.values,
    );
    return keyset.page(this.cursors, rows, limit, (row) => row);
  }

  /**
   * Deletes up to `limit` of the oldest deliveries made more than `days` ago that are no longer
   * pending (delivered, or failed for good), with their attempts (ON DELETE CASCADE); rows
   * another instance is deleting are skipped. Returns how many.
   */
  async unscopedPrune(days: number, limit: number): Promise<number> {
    const [{ pruned }]: Array<{ pruned: number }> = await this.dataSource.query(
      `WITH old AS (
         SELECT d.id FROM webhook_deliveries d
          WHERE d.status <> 'pending' AND d.created_at < now() - make_interval(days => $1::int)
          ORDER BY d.created_at LIMIT $2::int
            FOR UPDATE SKIP LOCKED
       ), gone AS (DELETE FROM webhook_deliveries d USING old WHERE d.id = old.id RETURNING 1)
       SELECT count(*)::int AS pruned FROM gone`,
      [days, limit],
    );
    return pruned;
  }

  async get(tx: Tx | undefined, id: string): Promise<DeliveryRow | undefined> {
    const rows: DeliveryRow[] = await (tx ?? this.dataSource.manager).query(`SELECT ${DELIVERY_COLUMNS} FROM webhook_deliveries d WHERE d.id = $1`, [id]);
    return rows[0];
  }

  /** A delivery of an event outside the feed (a test event) to one endpoint found visible. */
  async insertTest(tx: Tx, endpointId: string, event: { id: string; type: string; payload: Record<string, unknown> }): Promise<string> {
    const rows: Array<{ id: string }> = await tx.query(
      `INSERT INTO webhook_deliveries (endpoint_id, event_id, event_type, payload, next_attempt_at)
       VALUES ($1, $2, $3, $4, now()) RETURNING id`,
      [endpointId, event.id, event.type, JSON.stringify(event.payload)],
    );
    return rows[0].id;
  }

  /**
   * Waits for the dispatcher's lock and holds it until `tx` ends: no dispatcher pass runs
   * meanwhile. An endpoint is created under it (its `created_at` taken after it), so every event
   * that occurs after the endpoint's creation is dispatched by a pass that sees the endpoint.
   * Without it, a pass whose snapshot predated the endpoint's commit moved past such events, and
   * they never reached the endpoint.
   */
  async unscopedHoldDispatchLock(tx: Tx): Promise<void> {
    await tx.query(`SELECT pg_advisory_xact_lock(${DISPATCH_LOCK})`);
  }

  /** The dispatcher's lock (one dispatcher at a time across instances); false when another holds it. */
  async unscopedTryDispatchLock(tx: Tx): Promise<boolean> {
    const rows: Array<{ locked: boolean }> = await tx.query(`SELECT pg_try_advisory_xact_lock(${DISPATCH_LOCK}) AS locked`);
    return rows[0].locked;
  }

  /**
   * One step of the dispatcher, in the caller's transaction: the next `limit` events after the
   * stored position become a delivery for each enabled endpoint that wants them — the
   * event's subject in the subtree of the endpoint's (live) owner, its type subscribed, the
   * event not older than the endpoint — and the position moves past them. Returns how many
   * events were read and the deliveries made (each delivery exists once: a unique
   * (endpoint, event)).
   *
   * With no live endpoint (enabled, not deleted, its owner not deleted) no event is read: the
   * position moves as a step would have moved it (past the next `limit` events, or to the
   * newest), found from the newest event's sequence alone.
   *
   * The position is a bound of the index scan (a scalar subquery), never a join filter: as a
   * join (`FROM events e, pos WHERE e.sequence > pos.sequence`) PostgreSQL walked the primary
   * key from the feed's first event on every pass, so each pass, even one with nothing new,
   * read the whole feed (test/webhooks-dispatch.e2e-spec.ts). Only the columns the match
   * needs are read; the worker reads an event's body when it sends it (`unscopedWork`).
   */
  async unscopedDispatch(tx: Tx, limit: number): Promise<{ events: number; deliveries: string[] }> {
    // Named (preparedQuery) and without parameters (the limit, a setting, is written in the text):
    // it runs after every relay pass, and planning it each time cost more than running it; with
    // the limit a parameter, PostgreSQL kept planning it for the value.
    const step = sqlLimit(limit);
    const rows = await preparedQuery<{ events: number; deliveries: string[] }>(
      tx,
      `WITH pos AS (SELECT sequence FROM webhook_dispatch_position FOR UPDATE),
       live AS MATERIALIZED (
         SELECT w.id, w.event_types, w.created_at, o.path FROM webhook_endpoints w
           JOIN customers o ON o.id = w.owner_id AND o.deleted_at IS NULL
          WHERE w.deleted_at IS NULL AND w.status = 'enabled'
       ), ev AS (
         SELECT e.sequence, e.id, e.type, e.occurred_at, e.subject_path FROM events e
          WHERE EXISTS (SELECT FROM live) AND e.sequence > (SELECT sequence FROM pos) ORDER BY e.sequence LIMIT ${step}
       ), ins AS (
         -- clock_timestamp(): deliveries of one step keep the feed's order in the newest-first list
         INSERT INTO webhook_deliveries (endpoint_id, event_id, event_sequence, event_type, next_attempt_at, created_at)
         SELECT w.id, ev.id, ev.sequence, ev.type, now(), clock_timestamp()
           FROM ev
           -- the event's type subscribed, the event not older than the endpoint, its subject in the
           -- owner's subtree (a prefix of its materialized path)
           JOIN live w ON ev.type = ANY (w.event_types) AND ev.occurred_at >= w.created_at AND starts_with(ev.subject_path, w.path)
          ORDER BY ev.sequence, w.id
         ON CONFLICT ON CONSTRAINT webhook_deliveries_once DO NOTHING
         RETURNING id
       ), step AS (
         -- the position after this step: past the events read, or, with no live endpoint, past as
         -- many as a step reads (sequences are contiguous: the relay numbers them from the last one)
         SELECT CASE WHEN EXISTS (SELECT FROM live) THEN (SELECT max(sequence) FROM ev)
                     ELSE LEAST(COALESCE((SELECT max(sequence) FROM events), 0), (SELECT sequence FROM pos) + ${step}) END AS last
       ), moved AS (
         UPDATE webhook_dispatch_position p SET sequence = step.last FROM step WHERE step.last > p.sequence
         RETURNING p.sequence
       )
       SELECT CASE WHEN EXISTS (SELECT FROM live) THEN (SELECT count(*) FROM ev)
                   ELSE GREATEST((SELECT last FROM step) - (SELECT sequence FROM pos), 0) END::int AS events,
              COALESCE((SELECT array_agg(id) FROM ins), '{}') AS deliveries,
              (SELECT count(*) FROM moved) AS moved`,
      [],
    );
    return { events: rows[0].events, deliveries: rows[0].deliveries };
  }

  /** Everything the attempts of these deliveries need (those that exist). */
  async unscopedWork(ids: string[]): Promise<DeliveryWork[]> {
    // The actor as the owner's feed shows it: the same rule, with the owner's path per row.
    const actor = visibleActorSql('e.actor_id', (path) => `starts_with(${path}, o.path)`);
    return this.dataSource.query(
      `SELECT d.id, d.status, d.attempt_count, d.created_at, d.event_id, d.event_type, d.payload,
              w.id AS endpoint_id, w.url, w.secret, w.status AS endpoint_status, (w.deleted_at IS NOT NULL OR o.deleted_at IS NOT NULL) AS endpoint_deleted,
              e.sequence::text AS sequence, e.type, e.occurred_at, e.subject_type, e.subject_id, e.actor_id, ${ledgerEventDataSql('e', 'l')} AS data,
              ${actor.visible} IS NOT NULL AS actor_visible
         FROM webhook_deliveries d
         JOIN webhook_endpoints w ON w.id = d.endpoint_id
         JOIN customers o ON o.id = w.owner_id
         LEFT JOIN events e ON e.id = d.event_id AND d.payload IS NULL
         ${ledgerEventEntryJoin('e', 'l')}
         ${actor.joins}
        WHERE d.id = ANY ($1::uuid[])`,
      [ids],
    );
  }

  /**
   * Records attempts (attempt `n` of each pending delivery) and each delivery's new state, in
   * one statement. An attempt is recorded only if attempt n−1 was the last one recorded: of
   * two runs of one attempt (a job handed out again after its expiry while the first still
   * ran), only one is recorded. Returns the ids of the deliveries recorded.
   */
  async unscopedRecordAttempts(tx: Tx, attempts: RecordedAttempt[]): Promise<Set<string>> {
    if (!attempts.length) return new Set();
    const rows: Array<{ id: string }> = await tx.query(
      `WITH i AS (
         SELECT * FROM unnest($1::uuid[], $2::int[], $3::varchar[], $4::timestamptz[], $5::timestamptz[], $6::int[], $7::varchar[], $8::int[])
           AS i(id, n, status, next_at, attempted_at, status_code, error, duration_ms)
       ), recorded AS (
         UPDATE webhook_deliveries d SET attempt_count = i.n, status = i.status, next_attempt_at = i.next_at
           FROM i WHERE d.id = i.id AND d.attempt_count = i.n - 1 AND d.status = 'pending'
         RETURNING d.id
       ), attempts AS (
         INSERT INTO webhook_attempts (delivery_id, n, attempted_at, status_code, error, duration_ms)
         SELECT i.id, i.n, i.attempted_at, i.status_code, i.error, i.duration_ms FROM i JOIN recorded USING (id)
       )
       SELECT id FROM recorded`,
      [
        attempts.map((a) => a.id),
        attempts.map((a) => a.n),
        attempts.map((a) => a.status),
        attempts.map((a) => a.nextAttemptAt),
        attempts.map((a) => a.attemptedAt),
        attempts.map((a) => a.statusCode),
        attempts.map((a) => a.error),
        attempts.map((a) => a.durationMs),
      ],
    );
    return new Set(rows.map((r) => r.id));
  }

  /** Pending deliveries that will not be attempted (their endpoint was disabled or deleted). */
  async unscopedAbandon(ids: string[]): Promise<void> {
    if (!ids.length) return;
    await this.dataSource.query(`UPDATE webhook_deliveries SET status = 'failed', next_attempt_at = NULL WHERE id = ANY ($1::uuid[]) AND status = 'pending'`, [ids]);
  }

  /**
   * The endpoints' failure records after a set of attempts: cleared for those whose last
   * attempt succeeded; for those whose last attempt failed, the time since which they have
   * failed without a success in between (set to that failure if it was clear), returned.
   * Only the first failure writes (no row lock per failed attempt of a busy endpoint).
   */
  async unscopedNoteOutcomes(tx: Tx, succeeded: string[], failed: Array<{ endpointId: string; at: Date }>): Promise<Array<{ id: string; failing_since: Date }>> {
    if (!succeeded.length && !failed.length) return [];
    await tx.query(
      `WITH cleared AS (
         UPDATE webhook_endpoints SET failing_since = NULL WHERE id = ANY ($1::uuid[]) AND failing_since IS NOT NULL
       ), f AS (
         SELECT * FROM unnest($2::uuid[], $3::timestamptz[]) AS f(id, at)
       )
       UPDATE webhook_endpoints w SET failing_since = f.at FROM f WHERE w.id = f.id AND w.failing_since IS NULL`,
      [succeeded, failed.map((f) => f.endpointId), failed.map((f) => f.at)],
    );
    if (!failed.length) return [];
    // A statement of its own: it sees a failure record another transaction committed meanwhile.
    return tx.query(`SELECT id, failing_since FROM webhook_endpoints WHERE id = ANY ($1::uuid[]) AND failing_since IS NOT NULL`, [failed.map((f) => f.endpointId)]);
  }
}
