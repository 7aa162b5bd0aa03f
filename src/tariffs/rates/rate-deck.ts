import { CsvError, parse } from 'csv-parse/sync';
import { formatMoney, NON_NEGATIVE_DECIMAL_PATTERN } from '../../common/money';
import { ProblemError } from '../../common/problem/problem';
import {
  DATE_TIME_MESSAGE,
  INTERVAL_MESSAGE,
  parseDateTime,
  parseInterval,
  PREFIX_MESSAGE,
  PREFIX_PATTERN,
} from './rate-rules';

/**
 * A rate deck as CSV: the whole rate table of a tariff, one rate per row, under exactly this
 * header. Export writes the canonical form (money via formatMoney, instants via toISOString,
 * `\n` line ends, no quoting: no field can hold a comma or a quote), so that export → import
 * → export is byte-identical.
 */
export const RATE_DECK_COLUMNS = ['prefix', 'price', 'firstInterval', 'nextInterval', 'connectFee', 'effectiveFrom'] as const;
export const RATE_DECK_HEADER = RATE_DECK_COLUMNS.join(',');
/** Uploads may be this large (SPEC §11); every other body stays at 1 MiB. */
export const CSV_BODY_LIMIT = 20 * 1024 * 1024;
/** The problem lists at most this many errors (and says how many there were). */
export const MAX_LISTED_DECK_ERRORS = 100;

export const RATE_DECK_DESCRIPTION = `
A rate deck is CSV (UTF-8, a BOM is ignored) whose first row is exactly
\`${RATE_DECK_HEADER}\`, then one rate per row:

| column | format | empty means |
|---|---|---|
| \`prefix\` | 1–32 digits | (required) |
| \`price\` | per minute, decimal ≥ 0 with at most 8 fraction digits, e.g. \`0.0125\` | (required) |
| \`firstInterval\` | whole seconds, 1–86400: the first billing increment | \`1\` |
| \`nextInterval\` | whole seconds, 1–86400: every later increment | \`1\` |
| \`connectFee\` | decimal ≥ 0 with at most 8 fraction digits | \`0\` |
| \`effectiveFrom\` | ISO 8601 date-time with seconds and zone, at most milliseconds, e.g. \`2025-01-01T00:00:00.000Z\` | the time of the upload |

One rate per (\`prefix\`, \`effectiveFrom\`). Fields may be quoted and surrounding spaces are
trimmed; blank lines are skipped. Row numbers in errors are line numbers of the file (the
header is row 1).

The export is canonical: rows sorted by prefix then effectiveFrom, money as in JSON
(\`"0.01"\`, \`"0.0125"\`), \`effectiveFrom\` in UTC with milliseconds
(\`2025-01-01T00:00:00.000Z\`), no quoting, \`\\n\` after every row, so exporting what was
imported gives the same bytes.
`.trim();

export interface DeckError {
  /** Line number in the file; the header is row 1. */
  row: number;
  /** JSON pointer into the deck seen as rows of named fields, e.g. `/rows/17/price`. */
  pointer: string;
  detail: string;
}

/** The whole upload is refused; nothing was changed. */
export class RateDeckProblem extends ProblemError {
  constructor(errors: DeckError[]) {
    const rows = new Set(errors.map((e) => e.row)).size;
    const listed = errors.slice(0, MAX_LISTED_DECK_ERRORS);
    const more = errors.length > listed.length ? `; the first ${listed.length} are listed` : '';
    super(
      400,
      'invalid-rate-deck',
      'Invalid rate deck',
      `The rate deck was not loaded: ${errors.length} error(s) in ${rows} row(s)${more}. Nothing was changed.`,
      { errors: listed, errorCount: errors.length },
    );
  }
}

/** A parsed deck, column by column, ready for `INSERT ... SELECT FROM unnest(...)`. */
export interface RateDeck {
  prefixes: string[];
  prices: string[];
  firstIntervals: number[];
  nextIntervals: number[];
  connectFees: string[];
  /** Canonical ISO instants; null takes the time of the upload. */
  effectiveFroms: Array<string | null>;
}

export interface DeckRow {
  prefix: string;
  price: string;
  first_interval: number;
  next_interval: number;
  connect_fee: string;
  effective_from: Date;
}

/** One canonical CSV line (with its `\n`). */
export function formatDeckRow(row: DeckRow): string {
  return `${row.prefix},${formatMoney(row.price)},${row.first_interval},${row.next_interval},${formatMoney(row.connect_fee)},${row.effective_from.toISOString()}\n`;
}

const CSV_ERRORS: Record<string, string> = {
  CSV_QUOTE_NOT_CLOSED: 'a quoted field is never closed',
  INVALID_OPENING_QUOTE: 'a quote appears inside an unquoted field',
  CSV_INVALID_CLOSING_QUOTE: 'a closing quote is followed by something other than a comma or a line end',
};

const CSV_OPTIONS = { bom: true, relax_column_count: true, skip_empty_lines: true, trim: true } as const;

interface ParsedRecord {
  record: string[];
  info: { lines: number };
}

function readRecords(text: string): string[][] {
  try {
    return parse(text, CSV_OPTIONS) as string[][];
  } catch (error) {
    if (!(error instanceof CsvError)) throw error;
    const row = Number((error as CsvError & { lines?: number }).lines) || 1;
    throw new RateDeckProblem([{ row, pointer: `/rows/${row}`, detail: `malformed CSV: ${CSV_ERRORS[error.code] ?? 'the row cannot be read as CSV'}` }]);
  }
}

/**
 * Line numbers of the records (by index). Asking csv-parse for them doubles its time, so they
 * are read only when there is an error to report; same options, so the indexes agree.
 */
function lineNumbers(text: string): number[] {
  return (parse(text, { ...CSV_OPTIONS, info: true }) as unknown as ParsedRecord[]).map((r) => r.info.lines);
}

interface RecordError {
  index: number;
  column: string | null;
  detail: string;
  /** Index of the earlier record this one duplicates. */
  duplicateOf?: number;
}

function deckProblem(text: string, errors: RecordError[]): RateDeckProblem {
  const lines = lineNumbers(text);
  return new RateDeckProblem(
    errors.map(({ index, column, detail, duplicateOf }) => {
      const row = lines[index] ?? 1;
      const text = duplicateOf === undefined ? detail : `duplicates row ${lines[duplicateOf]}: ${detail}`;
      return { row, pointer: column ? `/rows/${row}/${column}` : `/rows/${row}`, detail: text };
    }),
  );
}

/**
 * Parses and validates a whole deck. Every bad row is reported (not just the first), with
 * its line number; any error refuses the whole deck.
 */
export function parseRateDeck(text: string): RateDeck {
  const records = readRecords(text);
  if (!records[0] || records[0].join(',') !== RATE_DECK_HEADER) {
    throw deckProblem(text, [{ index: 0, column: null, detail: `the first row must be exactly "${RATE_DECK_HEADER}"` }]);
  }
  const deck: RateDeck = { prefixes: [], prices: [], firstIntervals: [], nextIntervals: [], connectFees: [], effectiveFroms: [] };
  const errors: RecordError[] = [];
  const seen = new Map<string, number>();
  // A deck has few distinct instants: each is parsed once.
  const instants = new Map<string, string | null | undefined>([['', null]]);
  for (let index = 1; index < records.length; index++) {
    const record = records[index];
    const fail = (column: string | null, detail: string) => errors.push({ index, column, detail });
    if (record.length !== RATE_DECK_COLUMNS.length) {
      fail(null, `expected ${RATE_DECK_COLUMNS.length} fields, found ${record.length}`);
      continue;
    }
    const [prefix, price, first, next, connectFee, effectiveFrom] = record;
    const before = errors.length;
    if (!PREFIX_PATTERN.test(prefix)) fail('prefix', `prefix ${PREFIX_MESSAGE}`);
    if (!NON_NEGATIVE_DECIMAL_PATTERN.test(price)) fail('price', 'price must be a decimal ≥ 0 with at most 8 fraction digits');
    const firstInterval = first === '' ? 1 : parseInterval(first);
    if (firstInterval === undefined) fail('firstInterval', `firstInterval ${INTERVAL_MESSAGE}`);
    const nextInterval = next === '' ? 1 : parseInterval(next);
    if (nextInterval === undefined) fail('nextInterval', `nextInterval ${INTERVAL_MESSAGE}`);
    if (connectFee !== '' && !NON_NEGATIVE_DECIMAL_PATTERN.test(connectFee)) {
      fail('connectFee', 'connectFee must be a decimal ≥ 0 with at most 8 fraction digits');
    }
    let iso = instants.get(effectiveFrom);
    if (!instants.has(effectiveFrom)) {
      iso = parseDateTime(effectiveFrom)?.toISOString();
      instants.set(effectiveFrom, iso);
    }
    if (iso === undefined) fail('effectiveFrom', `effectiveFrom ${DATE_TIME_MESSAGE}`);
    if (errors.length > before) continue;

    const key = `${prefix} ${iso ?? 'upload'}`;
    const earlier = seen.get(key);
    if (earlier !== undefined) {
      errors.push({ index, column: 'effectiveFrom', detail: 'one rate per prefix and effectiveFrom', duplicateOf: earlier });
      continue;
    }
    seen.set(key, index);
    deck.prefixes.push(prefix);
    deck.prices.push(price);
    deck.firstIntervals.push(firstInterval!);
    deck.nextIntervals.push(nextInterval!);
    deck.connectFees.push(connectFee === '' ? '0' : connectFee);
    deck.effectiveFroms.push(iso ?? null);
  }
  if (errors.length) throw deckProblem(text, errors);
  return deck;
}
