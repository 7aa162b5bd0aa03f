import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Cursors, Page } from '../../common/pagination';
import { FindOptions, Visible } from '../../database/access';
import { Keyset } from '../../database/keyset';
import { openReadSnapshot, ReadSnapshot } from '../../database/snapshot';
import { affectedRows, likePattern, returnedRows, SqlParams } from '../../database/sql';
import type { Tx } from '../../database/writes';
import { Caller } from '../../tree/caller';
import { tariffInScope } from '../tariffs.repository';
import type { DeckRow, RateDeck } from './rate-deck';

export interface RateRow {
  id: string;
  tariff_id: string;
  prefix: string;
  price: string;
  first_interval: number;
  next_interval: number;
  connect_fee: string;
  effective_from: Date;
  version: number;
  created_at: Date;
  updated_at: Date;
}

export interface NewRate {
  prefix: string;
  price: string;
  firstInterval: number;
  nextInterval: number;
  connectFee: string;
  /** A canonical ISO instant; null takes "now". */
  effectiveFrom: string | null;
}

/** The fields a PATCH may change; absent (null) ones stay as they are. */
export type RatePatch = { [K in keyof NewRate]: NewRate[K] | null };

/** Rows per INSERT/UPDATE statement of an upload, and per FETCH of an export. */
export const DECK_BATCH_ROWS = 10000;

const COLUMNS = `r.id, r.tariff_id, r.prefix, r.price, r.first_interval, r.next_interval, r.connect_fee, r.effective_from,
  r.version, r.created_at, r.updated_at`;
/** "Now" as stored: effective_from keeps milliseconds only (see the Rates migration). */
const NOW_MS = `date_trunc('milliseconds', now())`;

/** The rates of one tariff, by prefix then effectiveFrom (unique per tariff). */
const listOf = (tariffId: string) =>
  new Keyset(`rates:${tariffId}`, [
    { sql: 'r.prefix', type: 'string' },
    { sql: 'r.effective_from', type: 'timestamp' },
  ]);

/** The deck's columns as arrays for unnest(), one batch of rows from `start`. */
function deckBatch(deck: RateDeck, start: number, params: SqlParams): string {
  const end = start + DECK_BATCH_ROWS;
  return `unnest(${params.add(deck.prefixes.slice(start, end))}::varchar[], ${params.add(deck.prices.slice(start, end))}::numeric[],
                 ${params.add(deck.firstIntervals.slice(start, end))}::int[], ${params.add(deck.nextIntervals.slice(start, end))}::int[],
                 ${params.add(deck.connectFees.slice(start, end))}::numeric[], ${params.add(deck.effectiveFroms.slice(start, end))}::timestamptz[])
          AS d(prefix, price, first_interval, next_interval, connect_fee, effective_from)`;
}

/** What a lookup finds in a visible tariff: the rate in effect, if any (no version: nothing is written through it). */
export interface RateLookup {
  rate?: RateRow;
  version?: undefined;
}

/** An export in progress: the rows come from a server-side cursor in one snapshot. */
export interface DeckCursor {
  /** The next rows (at most DECK_BATCH_ROWS; fewer at the end). */
  fetch(): Promise<DeckRow[]>;
}

/**
 * Queries on rates. A rate is visible exactly when its tariff is (its owner in the caller's
 * subtree): every statement carries that condition, evaluated once per statement, so bulk
 * deck writes pay for it once. No rules here.
 */
@Injectable()
export class RatesRepository {
  constructor(
    private readonly dataSource: DataSource,
    private readonly cursors: Cursors,
  ) {}

  /** The rates of one tariff, as the access check sees them (a rate of another tariff is not found). */
  ofTariff(tariffId: string): Visible<RateRow> {
    return { findVisible: (caller, rateId, options) => this.findVisible(caller, tariffId, rateId, options) };
  }

  async findVisible(caller: Caller, tariffId: string, rateId: string, options: FindOptions = {}): Promise<RateRow | undefined> {
    const params = new SqlParams();
    const tariff = params.add(tariffId);
    const rows: RateRow[] = await (options.tx ?? this.dataSource.manager).query(
      `SELECT ${COLUMNS} FROM rates r
        WHERE r.id = ${params.add(rateId)} AND r.tariff_id = ${tariff} AND ${tariffInScope(caller, tariff, params)}
        ${options.lock ? `${options.lock} OF r` : ''}`,
      params.values,
    );
    return rows[0];
  }

  /** A page of a visible tariff's rates, by prefix then effectiveFrom; `prefix` keeps those starting with it. */
  async list(caller: Caller, tariffId: string, filter: { prefix?: string }, cursor: string | undefined, limit: number): Promise<Page<RateRow>> {
    const keyset = listOf(tariffId);
    const params = new SqlParams();
    const tariff = params.add(tariffId);
    const where = [`r.tariff_id = ${tariff}`, tariffInScope(caller, tariff, params)];
    // Digits only (validated), so the pattern needs no escaping; "C" collation makes it a range scan.
    if (filter.prefix) where.push(`r.prefix LIKE ${params.add(likePattern(filter.prefix, 'prefix'))}`);
    const after = await keyset.after(this.cursors, cursor, params);
    if (after) where.push(after);
    const rows: RateRow[] = await this.dataSource.query(
      `SELECT ${COLUMNS}, ${keyset.select()} FROM rates r WHERE ${where.join(' AND ')} ${keyset.orderAndLimit(limit, params)}`,
      params.values,
    );
    return keyset.page(this.cursors, rows, limit, (row) => row);
  }

  /**
   * The rate that applies to `number` now in a visible tariff (undefined when the tariff is not
   * visible), in one round trip: among rates already in effect, the longest of the `candidates` prefixes
   * wins, and for that prefix the latest effective_from. One index scan on
   * (tariff_id, prefix, effective_from).
   */
  async lookup(caller: Caller, tariffId: string, candidates: string[]): Promise<RateLookup | undefined> {
    const params = new SqlParams();
    const tariff = params.add(tariffId);
    const rows: Array<RateRow | { id: null }> = await this.dataSource.query(
      `SELECT ${COLUMNS}
         FROM (SELECT ${tariff}::uuid AS id WHERE ${tariffInScope(caller, tariff, params)}) t
         LEFT JOIN LATERAL (
           SELECT * FROM rates x
            WHERE x.tariff_id = t.id AND x.prefix = ANY(${params.add(candidates)}::varchar[]) AND x.effective_from <= now()
            ORDER BY length(x.prefix) DESC, x.effective_from DESC LIMIT 1
         ) r ON true`,
      params.values,
    );
    if (!rows[0]) return undefined;
    return { rate: rows[0].id === null ? undefined : (rows[0] as RateRow) };
  }

  /** Adds a rate to a visible tariff; undefined when the tariff already has one for this prefix and instant. */
  async insert(caller: Caller, tx: Tx, tariffId: string, rate: NewRate): Promise<RateRow | undefined> {
    const params = new SqlParams();
    const tariff = params.add(tariffId);
    const rows: RateRow[] = await tx.query(
      `INSERT INTO rates AS r (tariff_id, prefix, price, first_interval, next_interval, connect_fee, effective_from)
       SELECT ${tariff}::uuid, ${params.add(rate.prefix)}, ${params.add(rate.price)}::numeric, ${params.add(rate.firstInterval)}::int,
              ${params.add(rate.nextInterval)}::int, ${params.add(rate.connectFee)}::numeric,
              COALESCE(${params.add(rate.effectiveFrom)}::timestamptz, ${NOW_MS})
        WHERE ${tariffInScope(caller, tariff, params)}
       ON CONFLICT (tariff_id, prefix, effective_from) DO NOTHING
       RETURNING ${COLUMNS}`,
      params.values,
    );
    return rows[0];
  }

  /** Applies a patch to a visible rate; bumps its version. A clash on (prefix, effectiveFrom) is a unique violation. */
  async update(caller: Caller, tx: Tx, tariffId: string, rateId: string, patch: RatePatch): Promise<RateRow | undefined> {
    const params = new SqlParams();
    const tariff = params.add(tariffId);
    const result: unknown = await tx.query(
      `UPDATE rates r SET prefix = COALESCE(${params.add(patch.prefix)}, r.prefix),
              price = COALESCE(${params.add(patch.price)}::numeric, r.price),
              first_interval = COALESCE(${params.add(patch.firstInterval)}::int, r.first_interval),
              next_interval = COALESCE(${params.add(patch.nextInterval)}::int, r.next_interval),
              connect_fee = COALESCE(${params.add(patch.connectFee)}::numeric, r.connect_fee),
              effective_from = COALESCE(${params.add(patch.effectiveFrom)}::timestamptz, r.effective_from),
              version = r.version + 1, updated_at = now()
        WHERE r.id = ${params.add(rateId)} AND r.tariff_id = ${tariff} AND ${tariffInScope(caller, tariff, params)}
        RETURNING ${COLUMNS}`,
      params.values,
    );
    return returnedRows<RateRow>(result)[0];
  }

  /** Deletes a visible rate; whether it was there. */
  async delete(caller: Caller, tx: Tx, tariffId: string, rateId: string): Promise<boolean> {
    const params = new SqlParams();
    const tariff = params.add(tariffId);
    const result: unknown = await tx.query(
      `DELETE FROM rates r WHERE r.id = ${params.add(rateId)} AND r.tariff_id = ${tariff} AND ${tariffInScope(caller, tariff, params)}`,
      params.values,
    );
    return affectedRows(result) > 0;
  }

  /** Deck upload, replace: deletes every rate of the visible tariff; how many. */
  async deleteAllOf(caller: Caller, tx: Tx, tariffId: string): Promise<number> {
    const params = new SqlParams();
    const tariff = params.add(tariffId);
    return affectedRows(await tx.query(`DELETE FROM rates r WHERE r.tariff_id = ${tariff} AND ${tariffInScope(caller, tariff, params)}`, params.values));
  }

  /**
   * Deck upload, merge: rewrites the rates of one batch of the deck (from row `start`) that
   * already exist with other values; how many.
   */
  async mergeDeckBatch(caller: Caller, tx: Tx, tariffId: string, deck: RateDeck, start: number): Promise<number> {
    const params = new SqlParams();
    const tariff = params.add(tariffId);
    return affectedRows(
      await tx.query(
        `UPDATE rates r SET price = d.price, first_interval = d.first_interval, next_interval = d.next_interval,
                connect_fee = d.connect_fee, version = r.version + 1, updated_at = now()
           FROM ${deckBatch(deck, start, params)}
          WHERE r.tariff_id = ${tariff} AND r.prefix = d.prefix AND r.effective_from = COALESCE(d.effective_from, ${NOW_MS})
            AND (r.price, r.first_interval, r.next_interval, r.connect_fee)
                IS DISTINCT FROM (d.price, d.first_interval, d.next_interval, d.connect_fee)
            AND ${tariffInScope(caller, tariff, params)}`,
        params.values,
      ),
    );
  }

  /**
   * Deck upload: inserts the rates of one batch of the deck (from row `start`); with
   * `skipExisting` (merge) only those not there yet. How many. The caller holds the tariff
   * row locked, so "not there yet" cannot change before the insert.
   */
  async insertDeckBatch(caller: Caller, tx: Tx, tariffId: string, deck: RateDeck, start: number, skipExisting: boolean): Promise<number> {
    const params = new SqlParams();
    const tariff = params.add(tariffId);
    const existing = `EXISTS (SELECT 1 FROM rates r WHERE r.tariff_id = ${tariff} AND r.prefix = d.prefix AND r.effective_from = COALESCE(d.effective_from, ${NOW_MS}))`;
    const rows: Array<{ inserted: string }> = await tx.query(
      `WITH ins AS (
         INSERT INTO rates (tariff_id, prefix, price, first_interval, next_interval, connect_fee, effective_from)
         SELECT ${tariff}::uuid, d.prefix, d.price, d.first_interval, d.next_interval, d.connect_fee, COALESCE(d.effective_from, ${NOW_MS})
           FROM ${deckBatch(deck, start, params)}
          WHERE ${tariffInScope(caller, tariff, params)} ${skipExisting ? `AND NOT ${existing}` : ''}
         RETURNING 1)
       SELECT count(*) AS inserted FROM ins`,
      params.values,
    );
    return Number(rows[0].inserted);
  }

  /** How many rates the visible tariff has. */
  async count(caller: Caller, tx: Tx, tariffId: string): Promise<number> {
    const params = new SqlParams();
    const tariff = params.add(tariffId);
    const rows: Array<{ total: string }> = await tx.query(
      `SELECT count(*) AS total FROM rates r WHERE r.tariff_id = ${tariff} AND ${tariffInScope(caller, tariff, params)}`,
      params.values,
    );
    return Number(rows[0].total);
  }

  /** A read-only snapshot on a connection of its own, for an export streamed over many reads. */
  openSnapshot(): Promise<ReadSnapshot> {
    return openReadSnapshot(this.dataSource);
  }

  /**
   * Opens the export of a visible tariff's deck in `snapshot` (by prefix then effectiveFrom;
   * `prefix` keeps the rates starting with it): a server-side cursor read batch by batch.
   */
  async openDeckCursor(caller: Caller, snapshot: ReadSnapshot, tariffId: string, prefix?: string): Promise<DeckCursor> {
    const params = new SqlParams();
    const tariff = params.add(tariffId);
    const where = [`r.tariff_id = ${tariff}`, tariffInScope(caller, tariff, params)];
    if (prefix) where.push(`r.prefix LIKE ${params.add(likePattern(prefix, 'prefix'))}`);
    await snapshot.tx.query(
      `DECLARE rate_deck NO SCROLL CURSOR FOR
         SELECT r.prefix, r.price, r.first_interval, r.next_interval, r.connect_fee, r.effective_from
           FROM rates r WHERE ${where.join(' AND ')} ORDER BY r.prefix, r.effective_from`,
      params.values,
    );
    return { fetch: () => snapshot.tx.query(`FETCH ${DECK_BATCH_ROWS} FROM rate_deck`) };
  }
}
