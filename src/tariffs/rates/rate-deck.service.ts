import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '../../config/config';
import { Readable } from 'node:stream';
import { DataSource, EntityManager, QueryRunner } from 'typeorm';
import { affectedRows, SqlParams } from '../../database/sql';
import { Caller, requirePermission } from '../../tree/caller';
import { TariffsService } from '../tariffs.service';
import { RateDeckMode, RateDeckResultDto } from './dto/rate.dto';
import { DeckRow, formatDeckRow, parseRateDeck, RATE_DECK_HEADER, RateDeck } from './rate-deck';
import { NOW_MS, RatesService } from './rates.service';

/** Rows per INSERT/UPDATE statement of an upload, and per FETCH of an export. */
const BATCH_ROWS = 10000;

/** The columns of a deck slice, as arrays for unnest(). */
const DECK_UNNEST = `unnest($2::varchar[], $3::numeric[], $4::int[], $5::int[], $6::numeric[], $7::timestamptz[])
  AS d(prefix, price, first_interval, next_interval, connect_fee, effective_from)`;

function slice(deck: RateDeck, start: number): unknown[] {
  const end = start + BATCH_ROWS;
  return [
    deck.prefixes.slice(start, end),
    deck.prices.slice(start, end),
    deck.firstIntervals.slice(start, end),
    deck.nextIntervals.slice(start, end),
    deck.connectFees.slice(start, end),
    deck.effectiveFroms.slice(start, end),
  ];
}

/**
 * Whole rate decks as CSV: an upload is one transaction (any bad row refuses all of it),
 * written with multi-row `INSERT ... SELECT FROM unnest(...)` in batches; an export streams
 * from a server-side cursor in one consistent snapshot.
 */
@Injectable()
export class RateDeckService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly tariffs: TariffsService,
    private readonly rates: RatesService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async importDeck(caller: Caller, tariffId: string, csv: string, mode: RateDeckMode): Promise<RateDeckResultDto> {
    // 404 and 403 come before any verdict on the deck; parsing happens before the transaction
    // so that the tariff stays locked only while rows are written.
    await this.tariffs.findVisible(caller, tariffId);
    requirePermission(caller, 'tariffs.manage');
    const deck = parseRateDeck(csv);
    return this.dataSource.transaction(async (m) => {
      const tariff = await this.rates.lockForWrite(caller, tariffId, m);
      const rows = deck.prefixes.length;
      const result: RateDeckResultDto = { mode, rows, inserted: 0, updated: 0, unchanged: 0, deleted: 0, total: 0 };
      if (mode === 'replace') {
        const deleted = affectedRows(await m.query(`DELETE FROM rates WHERE tariff_id = $1`, [tariff.id]));
        result.deleted = deleted;
      }
      for (let start = 0; start < rows; start += BATCH_ROWS) {
        const params = [tariff.id, ...slice(deck, start)];
        if (mode === 'merge') result.updated += await this.updateExisting(m, params);
        result.inserted += await this.insertNew(m, params, mode === 'merge');
      }
      result.unchanged = rows - result.inserted - result.updated;
      const count: Array<{ total: string }> = await m.query(`SELECT count(*) AS total FROM rates WHERE tariff_id = $1`, [tariff.id]);
      result.total = Number(count[0].total);
      await this.rates.recordChange(m, caller, tariff, `rate-deck.${mode}`, tariff.id, null, { ...result });
      return result;
    });
  }

  /** Merge: rewrites the rates the deck names whose values differ; returns how many. */
  private async updateExisting(m: EntityManager, params: unknown[]): Promise<number> {
    return affectedRows(
      await m.query(
      `UPDATE rates r SET price = d.price, first_interval = d.first_interval, next_interval = d.next_interval,
              connect_fee = d.connect_fee, version = r.version + 1, updated_at = now()
         FROM ${DECK_UNNEST}
        WHERE r.tariff_id = $1 AND r.prefix = d.prefix AND r.effective_from = COALESCE(d.effective_from, ${NOW_MS})
          AND (r.price, r.first_interval, r.next_interval, r.connect_fee)
              IS DISTINCT FROM (d.price, d.first_interval, d.next_interval, d.connect_fee)`,
        params,
      ),
    );
  }

  /** Inserts the deck's rates (under merge, only those not there yet); returns how many. */
  private async insertNew(m: EntityManager, params: unknown[], skipExisting: boolean): Promise<number> {
    // The tariff row is locked, so "not there yet" cannot change before the insert.
    const rows: Array<{ inserted: string }> = await m.query(
      `WITH ins AS (
         INSERT INTO rates (tariff_id, prefix, price, first_interval, next_interval, connect_fee, effective_from)
         SELECT $1, d.prefix, d.price, d.first_interval, d.next_interval, d.connect_fee, COALESCE(d.effective_from, ${NOW_MS})
           FROM ${DECK_UNNEST}
          ${skipExisting ? `WHERE NOT EXISTS (SELECT 1 FROM rates r WHERE r.tariff_id = $1 AND r.prefix = d.prefix AND r.effective_from = COALESCE(d.effective_from, ${NOW_MS}))` : ''}
         RETURNING 1)
       SELECT count(*) AS inserted FROM ins`,
      params,
    );
    return Number(rows[0].inserted);
  }

  /**
   * Opens the export: visibility is checked and the first rows are read before anything is
   * sent, so a 404 or a database error is still a proper problem. The rest is streamed.
   */
  async exportDeck(caller: Caller, tariffId: string, prefix?: string): Promise<Readable> {
    const runner = this.dataSource.createQueryRunner();
    await runner.connect();
    try {
      await runner.startTransaction('REPEATABLE READ');
      const tariff = await this.tariffs.findVisible(caller, tariffId, runner.manager);
      const params = new SqlParams();
      const where = [`tariff_id = ${params.add(tariff.id)}`];
      if (prefix) where.push(`prefix LIKE ${params.add(prefix + '%')}`);
      await runner.query(
        `DECLARE rate_deck NO SCROLL CURSOR FOR
           SELECT prefix, price, first_interval, next_interval, connect_fee, effective_from
             FROM rates WHERE ${where.join(' AND ')} ORDER BY prefix, effective_from`,
        params.values,
      );
      const first: DeckRow[] = await runner.query(`FETCH ${BATCH_ROWS} FROM rate_deck`);
      const pace: Pace = { lastPull: Date.now(), fetching: false };
      const stream = Readable.from(deckChunks(runner, first, pace), { objectMode: false });
      // 'close' comes after the last chunk, after an error, and when the client goes away
      // (even before the first read, when a generator's own finally would never run).
      stream.once('close', () => void close(runner).catch(() => undefined));
      // A client that stops reading must not keep the snapshot (and its pooled connection)
      // for ever: before the idle-in-transaction bound (when PostgreSQL would close the
      // session under us) passes without a pull, the export is cut and its transaction ended.
      const idleMs = this.config.DB_IDLE_IN_TRANSACTION_TIMEOUT_MS;
      const stallMs = Math.floor(idleMs * 0.75);
      const watchdog = setInterval(() => {
        if (!pace.fetching && Date.now() - pace.lastPull > stallMs) stream.destroy(new Error('rate deck export stalled: the client stopped reading'));
      }, Math.max(25, Math.floor(idleMs / 10)));
      watchdog.unref();
      stream.once('close', () => clearInterval(watchdog));
      return stream;
    } catch (error) {
      await close(runner);
      throw error;
    }
  }
}

/** When the client last took a chunk, and whether the database is being read right now. */
interface Pace {
  lastPull: number;
  fetching: boolean;
}

async function* deckChunks(runner: QueryRunner, first: DeckRow[], pace: Pace): AsyncGenerator<string> {
  yield RATE_DECK_HEADER + '\n';
  pace.lastPull = Date.now();
  let rows = first;
  while (rows.length > 0) {
    yield rows.map(formatDeckRow).join('');
    pace.lastPull = Date.now();
    if (rows.length < BATCH_ROWS) break;
    pace.fetching = true;
    try {
      rows = await runner.query(`FETCH ${BATCH_ROWS} FROM rate_deck`);
    } finally {
      pace.fetching = false;
    }
  }
}

/** Ends the read-only snapshot and gives the connection back to the pool. */
async function close(runner: QueryRunner): Promise<void> {
  if (runner.isReleased) return;
  try {
    if (runner.isTransactionActive) await runner.rollbackTransaction();
  } finally {
    await runner.release();
  }
}
