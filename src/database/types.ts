import { types } from 'pg';
import { isoTime } from '../common/iso-time';

/** PostgreSQL's type oid of `timestamptz`. */
const TIMESTAMPTZ = 1184;

const digit = (text: string, at: number): number => text.charCodeAt(at) - 48;
const two = (text: string, at: number): number => digit(text, at) * 10 + digit(text, at + 1);
const isDigit = (text: string, at: number): boolean => {
  const c = text.charCodeAt(at);
  return c >= 48 && c <= 57;
};
const twoDigits = (text: string, at: number): boolean => isDigit(text, at) && isDigit(text, at + 1);
const POWERS = [1, 10, 100, 1000, 10000, 100000, 1000000];
/** node-postgres's own parser (postgres-date), for anything this one does not read. */
const postgresDate = types.getTypeParser(TIMESTAMPTZ, 'text') as (text: string) => Date | number | null;

/**
 * A `timestamptz` as PostgreSQL prints it (DateStyle ISO): `2026-12-04 00:29:45.058123+00`,
 * the fraction optional (up to six digits), the offset `±HH`, `±HH:MM` or `±HH:MM:SS`. Read by
 * character codes instead of node-postgres's regular expressions (postgres-date), which were
 * 3 % of a `GET /v1/customers/{id}` and 6 % of a subtree page of Canopy's CPU. The result is
 * the instant of the text, its fraction truncated to the millisecond: the Date postgres-date
 * gives. Anything else (a year before 1000 or after 9999, BC, infinity) goes to postgres-date.
 * src/database/types.spec.ts holds the two to the same instants.
 */
export function parseTimestamptz(text: string): Date | number | null {
  const n = text.length;
  // YYYY-MM-DD HH:MM:SS is 19 characters, and the offset at least 3 more.
  if (n < 22 || text.charCodeAt(4) !== 45 || text.charCodeAt(7) !== 45 || text.charCodeAt(10) !== 32 || text.charCodeAt(13) !== 58 || text.charCodeAt(16) !== 58) {
    return postgresDate(text);
  }
  const year = two(text, 0) * 100 + two(text, 2);
  const month = two(text, 5);
  const day = two(text, 8);
  const hour = two(text, 11);
  const minute = two(text, 14);
  const second = two(text, 17);
  if (!twoDigits(text, 0) || !twoDigits(text, 2) || year < 1000) return postgresDate(text);
  if (!twoDigits(text, 5) || !twoDigits(text, 8) || !twoDigits(text, 11) || !twoDigits(text, 14) || !twoDigits(text, 17)) return postgresDate(text);
  let at = 19;
  let ms = 0;
  if (text.charCodeAt(at) === 46 /* . */) {
    const start = ++at;
    let fraction = 0;
    while (at < n && isDigit(text, at)) fraction = fraction * 10 + digit(text, at++);
    if (at === start || at - start > 6) return postgresDate(text);
    // The fraction's first three digits, in integers.
    const digits = at - start;
    ms = digits <= 3 ? fraction * POWERS[3 - digits] : Math.floor(fraction / POWERS[digits - 3]);
  }
  const sign = text.charCodeAt(at);
  if ((sign !== 43 && sign !== 45) /* + - */ || !twoDigits(text, at + 1)) return postgresDate(text);
  let offset = two(text, at + 1) * 3600;
  at += 3;
  if (at < n) {
    if (text.charCodeAt(at) !== 58 || !twoDigits(text, at + 1)) return postgresDate(text);
    offset += two(text, at + 1) * 60;
    at += 3;
    if (at < n) {
      if (text.charCodeAt(at) !== 58 || !twoDigits(text, at + 1) || at + 3 !== n) return postgresDate(text);
      offset += two(text, at + 1);
    }
  }
  const utc = Date.UTC(year, month - 1, day, hour, minute, second, ms);
  return new Date(utc - (sign === 45 ? -offset : offset) * 1000);
}

/**
 * A `timestamptz` selected as text (`x::text`), written as `Date#toISOString` would write the
 * instant (`2026-12-04T00:29:45.058Z`): for the UTC offset `+00` (PostgreSQL's default session
 * time zone here) by slicing the text, without a Date; for any other text through
 * parseTimestamptz and isoTime. A subtree page spent 5 % of its Node CPU turning 102 timestamps
 * into Dates and back. src/database/types.spec.ts holds it to the Date path.
 */
export function isoOfTimestamptz(text: string): string {
  const n = text.length;
  // YYYY-MM-DD HH:MM:SS[.f{1,6}]+00
  const utc = n >= 22 && n !== 23 && n <= 29 && text.charCodeAt(n - 3) === 43 && text.charCodeAt(n - 2) === 48 && text.charCodeAt(n - 1) === 48;
  if (utc && text.charCodeAt(4) === 45 && text.charCodeAt(10) === 32 && (n === 22 || text.charCodeAt(19) === 46)) {
    const ms = n === 22 ? '000' : n >= 26 ? text.slice(20, 23) : (text.slice(20, n - 3) + '00').slice(0, 3);
    return `${text.slice(0, 10)}T${text.slice(11, 19)}.${ms}Z`;
  }
  const date = parseTimestamptz(text);
  if (!(date instanceof Date)) throw new Error(`not a finite timestamptz: ${text}`);
  return isoTime(date);
}

/**
 * The type parsers of Canopy's pools (`types` of node-postgres's client config): node-postgres's
 * own, except `timestamptz` (`parseTimestamptz`). Given per pool, so other pg clients in the
 * same process (tests, benchmarks) keep node-postgres's defaults.
 */
export const canopyTypes = {
  getTypeParser(oid: number, format?: 'text' | 'binary'): unknown {
    if (oid === TIMESTAMPTZ && (format ?? 'text') === 'text') return parseTimestamptz;
    return types.getTypeParser(oid, format as 'text');
  },
};
