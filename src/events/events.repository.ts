import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Cursors, Page } from '../common/pagination';
import { ProblemError } from '../common/problem/problem';
import { Keyset } from '../database/keyset';
import { preparedQuery } from '../database/prepared';
import { SqlParams, sqlLimit } from '../database/sql';
import { Caller } from '../tree/caller';
import { callerVisibleActorSql, pathUnderCondition } from '../tree/scope';
import { EventRow } from './event-view';
import { ledgerEventDataSql, ledgerEventEntryJoin, ledgerEventIdSql, ledgerEventsSql } from './ledger-events';

/** Only one relay runs at a time, across instances (a transaction-level advisory lock). */
const RELAY_LOCK_KEY = 7_146_720_114_001;

/** The relay's refusal when its position in the ledger is ahead of the cluster's transaction ids. */
export const RELAY_POSITION_AHEAD =
  'the event relay position is ahead of this cluster\'s transaction ids (a logical restore?): re-base it as the README says (Production, "Restoring a dump")';

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
 * A feed read from a position whose next events were deleted (EVENTS_RETENTION_DAYS): the reader
 * would miss them, so it is told, with where the kept events begin, rather than given a gap.
 */
export class EventsExpiredProblem extends ProblemError {
  constructor(prunedThrough: string) {
    super(
      410,
      'events-expired',
      'Events expired',
      `Events up to sequence ${prunedThrough} are no longer kept; read the feed from its start (without after or cursor), or after ${prunedThrough}.`,
      { prunedThrough: Number(prunedThrough) },
    );
  }
}

/**
 * The relay's statement and the feed. Outbox rows are written by the database itself (the
 * triggers of migration 1764400000000), ledger entries by THE posting; the relay reads both
 * (migration 1764900000000-LedgerEventsByRelay); nothing else writes `events`.
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
   * Moves up to `batch` rows of ended transactions into `events`, in one transaction: outbox
   * rows (deleted) and ledger entries (after `event_relay_position`, which then points at the
   * last one taken), each entry giving `balance.changed` and, when its posting recorded a
   * crossing, `balance.low`. They are numbered after the last sequence in (txid, outbox before
   * ledger, n or seq) order. Only rows of transactions that ended before every transaction
   * still running (`txid < xmin` of this statement's snapshot) are taken: a transaction still
   * running may yet commit rows, and its txid is ≥ xmin, so every row numbered later sorts
   * after these; and since the rows taken are the first of that order, every entry not yet
   * taken sorts after the position kept. Returns how many rows were taken and how many events
   * written, or null when another relay holds the lock. The lock is taken first and the move
   * runs in a statement of its own, whose snapshot therefore sees the previous relay's commit.
   * Writers are never blocked: the rows deleted belong to ended transactions, and the lock and
   * the position are the relays' alone.
   */
  async relay(batch: number): Promise<{ taken: number; written: number } | null> {
    return this.dataSource.transaction(async (tx) => {
      const [{ locked, ahead }]: Array<{ locked: boolean; ahead: boolean }> = await tx.query(
        `SELECT pg_try_advisory_xact_lock($1) AS locked,
                (SELECT p.ledger_txid >= pg_snapshot_xmax(pg_current_snapshot()) FROM event_relay_position p) AS ahead`,
        [RELAY_LOCK_KEY],
      );
      if (!locked) return null;
      // A position no transaction of this cluster has reached: its ids started again (a logical
      // restore). Every new entry would sort below it and be passed over; refuse, loudly.
      if (ahead) throw new Error(RELAY_POSITION_AHEAD);
      // A named prepared statement (preparedQuery) without parameters (the limit, a setting, is
      // written in the text), so planned once per connection: planned afresh, each pass cost
      // 1.3-1.8 ms of planning (bench/RESULTS.md, sixteenth session).
      const limit = sqlLimit(batch);
      const [{ taken, written }] = await preparedQuery<{ taken: string; written: string }>(
        tx,
        // Outbox rows by their ctids (a TID scan): a join on (txid, n) was planned as a nested
        // loop rescanning `ready` per row (the outbox is empty whenever it is analyzed),
        // quadratic in the rows ready: 5,000 of them (one batch of calls) ran past the statement
        // timeout. Entries after the position (the view `ledger_entries_unrelayed`, on the index
        // `ledger_entries_relay`), by `seq`.
        `WITH o AS MATERIALIZED (
           SELECT o.txid, 0 AS src, o.n AS k, o.ctid AS at FROM event_outbox o
            WHERE o.txid < pg_snapshot_xmin(pg_current_snapshot())
            ORDER BY o.txid, o.n
            LIMIT ${limit}
         ), l AS MATERIALIZED (
           SELECT e.txid, 1 AS src, e.seq AS k, NULL::tid AS at FROM ledger_entries_unrelayed e
            WHERE e.txid < pg_snapshot_xmin(pg_current_snapshot())
            ORDER BY e.txid, e.seq
            LIMIT ${limit}
         ), ready AS MATERIALIZED (
           SELECT * FROM (SELECT * FROM o UNION ALL SELECT * FROM l) u ORDER BY u.txid, u.src, u.k LIMIT ${limit}
         ), taken AS (
           DELETE FROM event_outbox o WHERE o.ctid = ANY (ARRAY(SELECT at FROM ready WHERE src = 0))
           RETURNING o.*
         ), kept AS (
           UPDATE event_relay_position p SET ledger_txid = r.txid, ledger_seq = r.k
             FROM (SELECT txid, k FROM ready WHERE src = 1 ORDER BY txid DESC, k DESC LIMIT 1) r
           RETURNING 1
         ), b AS (
           SELECT e.txid, e.seq, e.created_at, e.actor_id, e.low_balance_threshold,
                  CASE WHEN e.account_id IS NULL THEN 'customer' ELSE 'account' END AS holder_type,
                  COALESCE(e.customer_id, e.account_id) AS holder_id, c.path
             FROM ready r
             JOIN ledger_entries e ON e.seq = r.k
             LEFT JOIN accounts ac ON ac.id = e.account_id
             JOIN customers c ON c.id = COALESCE(e.customer_id, ac.customer_id)
            WHERE r.src = 1
         ), evs AS (
           SELECT t.txid, 0 AS src, t.n AS k, 0 AS ord, t.id, t.type, t.occurred_at, t.subject_type, t.subject_id, t.subject_path,
                  t.actor_id, t.data, NULL::bigint AS ledger_seq
             FROM taken t
           UNION ALL
           SELECT x.txid, 1, x.seq, x.ord, NULL::uuid, x.type, x.occurred_at, x.subject_type, x.subject_id, x.subject_path,
                  x.actor_id, NULL, x.seq
             FROM (${ledgerEventsSql('b e')}) x
         ), last AS (SELECT COALESCE(max(sequence), 0) AS sequence FROM events),
         numbered AS (
           INSERT INTO events (sequence, id, type, occurred_at, subject_type, subject_id, subject_path, actor_id, data, ledger_seq)
           SELECT t.sequence, COALESCE(t.id, ${ledgerEventIdSql('t.occurred_at', 't.sequence')}), t.type, t.occurred_at, t.subject_type,
                  t.subject_id, t.subject_path, t.actor_id, t.data, t.ledger_seq
             FROM (SELECT last.sequence + row_number() OVER (ORDER BY t.txid, t.src, t.k, t.ord) AS sequence, t.* FROM evs t, last) t
           RETURNING 1
         )
         SELECT (SELECT count(*) FROM ready) AS taken, (SELECT count(*) FROM numbered) AS written`,
        [],
      );
      return { taken: Number(taken), written: Number(written) };
    });
  }

  /**
   * Events about the caller's subtree, ascending by sequence. A read from a position (`after`,
   * a cursor) below the last event deleted by age is a 410 (EventsExpiredProblem): checked in
   * the page's own statement, so against the same snapshot as the events read.
   */
  async page(caller: Caller, filter: FeedFilter, limit: number, cursor?: string): Promise<Page<FeedRow>> {
    const params = new SqlParams();
    const where = [pathUnderCondition('e.subject_path', caller.path, params)];
    if (filter.after !== undefined) where.push(`e.sequence > ${params.add(filter.after)}::bigint`);
    if (filter.types?.length) where.push(`e.type = ANY (${params.add([...filter.types])}::text[])`);
    const position = await KEYSET.position(this.cursors, cursor);
    if (position) where.push(KEYSET.condition(position, params));
    // The actor is shown only when it lies in the caller's subtree (as audit events show it): a
    // customer, or an account (self-care) whose customer does.
    const actor = callerVisibleActorSql('e.actor_id', caller, params);
    // One row at least (the retention's mark), with the page's rows joined to it.
    const rows: Array<FeedRow & { pruned_through: string }> = await this.dataSource.query(
      `SELECT r.events_pruned_through::text AS pruned_through, x.*
         FROM event_relay_position r
         LEFT JOIN LATERAL (
           SELECT e.sequence, e.id, e.type, e.occurred_at, e.subject_type, e.subject_id, e.actor_visible, ${ledgerEventDataSql('e', 'l')} AS data,
                    ${KEYSET.carried('e')}
             FROM (
               SELECT e.*, ${actor.visible} AS actor_visible, ${KEYSET.select()}
                 FROM events e
                 ${actor.joins}
                WHERE ${where.join(' AND ')}
                ${KEYSET.orderAndLimit(limit, params)}
             ) e
             ${ledgerEventEntryJoin('e', 'l')}
            ORDER BY e.sequence
         ) x ON true
        ORDER BY x.sequence`,
      params.values,
    );
    // The page starts after the later of `after` and the cursor (both bound it); below the mark, events are missing.
    const starts = [filter.after, position?.[0]].filter((v): v is string => v !== undefined).map(BigInt);
    if (starts.length && starts.every((start) => start < BigInt(rows[0].pruned_through))) throw new EventsExpiredProblem(rows[0].pruned_through);
    return KEYSET.page(this.cursors, rows[0].sequence === null ? [] : rows, limit, (r) => r);
  }

  /**
   * Deletes up to `limit` of the oldest events, in sequence order, stopping at the first
   * younger than `retentionDays` and before the first still needed: the newest event (the
   * relay numbers on from it), the first the webhook dispatcher has not read, the first a
   * pending delivery still has to send. Records the last sequence deleted
   * (`events_pruned_through`, which the feed checks), in the same transaction. Under the
   * relay's lock (waited for): one instance at a time, and never while the relay numbers.
   */
  async prune(retentionDays: number, limit: number): Promise<number> {
    return this.dataSource.transaction(async (tx) => {
      await tx.query(`SELECT pg_advisory_xact_lock($1)`, [RELAY_LOCK_KEY]);
      const [{ pruned }]: Array<{ pruned: number }> = await tx.query(
        `WITH mark AS (SELECT events_pruned_through AS s FROM event_relay_position),
         keep AS (
           SELECT LEAST((SELECT max(sequence) FROM events), (SELECT sequence + 1 FROM webhook_dispatch_position),
                        (SELECT min(event_sequence) FROM webhook_deliveries WHERE status = 'pending')) AS s
         ), c AS MATERIALIZED (
           SELECT e.sequence, e.occurred_at < now() - make_interval(days => $1::int) AS old
             FROM events e
            WHERE e.sequence > (SELECT s FROM mark) AND e.sequence < (SELECT s FROM keep)
            ORDER BY e.sequence LIMIT $2::int
         ), upto AS (
           SELECT COALESCE((SELECT min(sequence) FROM c WHERE NOT old) - 1, (SELECT max(sequence) FROM c)) AS s
         ), gone AS (
           DELETE FROM events e WHERE e.sequence > (SELECT s FROM mark) AND e.sequence <= (SELECT s FROM upto) RETURNING 1
         ), moved AS (
           -- runs though unread: a data-modifying CTE always does
           UPDATE event_relay_position p SET events_pruned_through = u.s FROM upto u WHERE u.s > p.events_pruned_through
         )
         SELECT (SELECT count(*) FROM gone)::int AS pruned`,
        [retentionDays, limit],
      );
      return pruned;
    });
  }
}
