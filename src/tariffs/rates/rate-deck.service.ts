import { Inject, Injectable } from '@nestjs/common';
import { Readable } from 'node:stream';
import { APP_CONFIG, AppConfig } from '../../config/config';
import { Writes } from '../../database/writes';
import { Caller } from '../../tree/caller';
import { TariffsService } from '../tariffs.service';
import { RateDeckMode, RateDeckResultDto } from './dto/rate.dto';
import { DeckRow, formatDeckRow, parseRateDeck, RATE_DECK_HEADER } from './rate-deck';
import { DeckCursor, DECK_BATCH_ROWS, RatesRepository } from './rates.repository';
import { rateChange, RatesService } from './rates.service';

/**
 * Whole rate decks as CSV: an upload is one transaction (any bad row refuses all of it),
 * written with multi-row `INSERT ... SELECT FROM unnest(...)` in batches, and audited with its
 * counts (never its rows); an export streams from a server-side cursor in one consistent
 * snapshot.
 */
@Injectable()
export class RateDeckService {
  constructor(
    private readonly rates: RatesRepository,
    private readonly rateRules: RatesService,
    private readonly tariffs: TariffsService,
    private readonly writes: Writes,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async importDeck(caller: Caller, tariffId: string, csv: string, mode: RateDeckMode): Promise<RateDeckResultDto> {
    // 404 and 403 come before any verdict on the deck; parsing happens before the transaction
    // so that the tariff stays locked only while rows are written.
    await this.tariffs.require(caller, tariffId, { permission: 'tariffs.manage' });
    const deck = parseRateDeck(csv);
    return this.writes.change(caller.customerId, async (tx) => {
      const tariff = await this.rateRules.lockForWrite(caller, tariffId, tx);
      const rows = deck.prefixes.length;
      const result: RateDeckResultDto = { mode, rows, inserted: 0, updated: 0, unchanged: 0, deleted: 0, total: 0 };
      if (mode === 'replace') result.deleted = await this.rates.deleteAllOf(caller, tx, tariff.id);
      for (let start = 0; start < rows; start += DECK_BATCH_ROWS) {
        if (mode === 'merge') result.updated += await this.rates.mergeDeckBatch(caller, tx, tariff.id, deck, start);
        result.inserted += await this.rates.insertDeckBatch(caller, tx, tariff.id, deck, start, mode === 'merge');
      }
      result.unchanged = rows - result.inserted - result.updated;
      result.total = await this.rates.count(caller, tx, tariff.id);
      // The event records what the upload did (its counts), not the rows it wrote.
      return { result, audit: rateChange(tariff, `rate-deck.${mode}`, tariff.id, null, { ...result }) };
    });
  }

  /**
   * Opens the export: visibility is checked and the first rows are read before anything is
   * sent, so a 404 or a database error is still a proper problem. The rest is streamed.
   */
  async exportDeck(caller: Caller, tariffId: string, prefix?: string): Promise<Readable> {
    const snapshot = await this.rates.openSnapshot();
    try {
      const tariff = await this.tariffs.require(caller, tariffId, { tx: snapshot.tx });
      const cursor = await this.rates.openDeckCursor(caller, snapshot, tariff.id, prefix);
      const first = await cursor.fetch();
      const pace: Pace = { lastPull: Date.now(), fetching: false };
      const stream = Readable.from(deckChunks(cursor, first, pace), { objectMode: false });
      // 'close' comes after the last chunk, after an error, and when the client goes away
      // (even before the first read, when a generator's own finally would never run).
      stream.once('close', () => void snapshot.close().catch(() => undefined));
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
      await snapshot.close();
      throw error;
    }
  }
}

/** When the client last took a chunk, and whether the database is being read right now. */
interface Pace {
  lastPull: number;
  fetching: boolean;
}

async function* deckChunks(cursor: DeckCursor, first: DeckRow[], pace: Pace): AsyncGenerator<string> {
  yield RATE_DECK_HEADER + '\n';
  pace.lastPull = Date.now();
  let rows = first;
  while (rows.length > 0) {
    yield rows.map(formatDeckRow).join('');
    pace.lastPull = Date.now();
    if (rows.length < DECK_BATCH_ROWS) break;
    pace.fetching = true;
    try {
      rows = await cursor.fetch();
    } finally {
      pace.fetching = false;
    }
  }
}
