import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Cursors, Page } from '../common/pagination';
import { Keyset } from '../database/keyset';
import { SqlParams } from '../database/sql';
import { Caller } from '../tree/caller';
import { callerVisibleActorSql, pathUnderCondition } from '../tree/scope';
import { EventRow } from './event-view';

/** Only one relay runs at a time, across instances (a transaction-level advisory lock). */
const RELAY_LOCK_KEY = 7_146_720_114_001;

export interface FeedRow extends EventRow {
  /** actor_id when the actor lies in the viewer's subtree, else null. */
  actor_visible: string | null;
}

export interface FeedFilter {
  /** Only events with a greater sequence. */
  after?: string;
  types?: readonly string[];
}

const KEYSET = new Keyset('events', [{ sql: 'e.sequence', type: 'bigint' }], 'asc');

/**
 * The outbox relay's statement and the feed. Outbox rows are written by the database itself
 * (the triggers of migration 1764400000000); nothing else writes `events`.
 */
@Injectable()
export class EventsRepository {
  constructor(
    private readonly dataSource: DataSource,
    private readonly cursors: Cursors,
  ) {}

  /** false without a database (the OpenAPI export): no relay then. */
  get connected(): boolean {
    return this.dataSource.isInitialized;
  }

  /**
   * Moves up to `batch` outbox rows into `events` in one transaction, numbering them after the
   * last sequence in (txid, n) order. Only rows of transactions that ended before every
   * transaction still running (`txid < xmin` of this statement's snapshot) are taken: a
   * transaction still running may yet commit rows, and its txid is ≥ xmin, so every row
   * numbered later sorts after these. Returns how many moved, or null when another relay holds
   * the lock. The lock is taken first and the move runs in a statement of its own, whose
   * snapshot therefore sees the previous relay's commit. Writers are never blocked: the rows
   * deleted belong to ended transactions, and the lock is the relays' alone.
   */
  async relay(batch: number): Promise<number | null> {
    return this.dataSource.transaction(async (tx) => {
      const [{ locked }]: Array<{ locked: boolean }> = await tx.query('SELECT pg_try_advisory_xact_lock($1) AS locked', [RELAY_LOCK_KEY]);
      if (!locked) return null;
      const [{ moved }]: Array<{ moved: string }> = await tx.query(
        // The rows by their ctids (a TID scan): a join on (txid, n) was planned as a nested loop
        // rescanning \`ready\` per row (the outbox is empty whenever it is analyzed), quadratic in
        // the rows ready: 5,000 of them (one batch of calls) ran past the statement timeout.
        `WITH ready AS MATERIALIZED (
           SELECT o.ctid AS at FROM event_outbox o
            WHERE o.txid < pg_snapshot_xmin(pg_current_snapshot())
            ORDER BY o.txid, o.n
            LIMIT $1
         ), taken AS (
           DELETE FROM event_outbox o WHERE o.ctid = ANY (ARRAY(SELECT at FROM ready))
           RETURNING o.*
         ), last AS (SELECT COALESCE(max(sequence), 0) AS sequence FROM events),
         numbered AS (
           INSERT INTO events (sequence, id, type, occurred_at, subject_type, subject_id, subject_path, actor_id, data)
           SELECT last.sequence + row_number() OVER (ORDER BY t.txid, t.n), t.id, t.type, t.occurred_at, t.subject_type,
                  t.subject_id, t.subject_path, t.actor_id, t.data
             FROM taken t, last
           RETURNING 1
         )
         SELECT count(*) AS moved FROM numbered`,
        [batch],
      );
      return Number(moved);
    });
  }

  /** Events about the caller's subtree, ascending by sequence. */
  async page(caller: Caller, filter: FeedFilter, limit: number, cursor?: string): Promise<Page<FeedRow>> {
    const params = new SqlParams();
    const where = [pathUnderCondition('e.subject_path', caller.path, params)];
    if (filter.after !== undefined) where.push(`e.sequence > ${params.add(filter.after)}::bigint`);
    if (filter.types?.length) where.push(`e.type = ANY (${params.add([...filter.types])}::text[])`);
    const after = await KEYSET.after(this.cursors, cursor, params);
    if (after) where.push(after);
    // The actor is shown only when it lies in the caller's subtree (as audit events show it): a
    // customer, or an account (self-care) whose customer does.
    const actor = callerVisibleActorSql('e.actor_id', caller, params);
    const rows: FeedRow[] = await this.dataSource.query(
      `SELECT e.sequence, e.id, e.type, e.occurred_at, e.subject_type, e.subject_id, ${actor.visible} AS actor_visible, e.data, ${KEYSET.select()}
         FROM events e
         ${actor.joins}
        WHERE ${where.join(' AND ')}
        ${KEYSET.orderAndLimit(limit, params)}`,
      params.values,
    );
    return KEYSET.page(this.cursors, rows, limit, (r) => r);
  }
}
