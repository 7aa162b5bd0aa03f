/**
 * The rules of a single rate's fields, shared by the JSON DTOs and the CSV deck parser so
 * that a rate means the same whichever way it arrives.
 */
export const PREFIX_PATTERN = /^\d{1,32}$/;
/** A dialled number: 1–32 digits, optionally written with a leading '+'. */
export const NUMBER_PATTERN = /^\+?\d{1,32}$/;
/** Billing increments are whole seconds, at least 1, at most a day. */
export const MAX_INTERVAL_SECONDS = 86400;

export const PREFIX_MESSAGE = 'must be 1–32 digits (0-9)';
export const INTERVAL_MESSAGE = `must be a whole number of seconds from 1 to ${MAX_INTERVAL_SECONDS}`;
export const DATE_TIME_MESSAGE =
  'must be an ISO 8601 date-time with seconds and a time zone, at most millisecond precision, e.g. "2025-01-01T00:00:00.000Z"';

const DATE_TIME_PATTERN = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,3})?(Z|[+-](\d{2}):(\d{2}))$/;

/**
 * Parses an RFC 3339 date-time (seconds and zone required, at most milliseconds) into its
 * instant, or undefined. Impossible calendar values (2025-02-30, 24:00) are refused rather
 * than rolled over, and the instant must stay within years 1000–9999 so that its canonical
 * form (`toISOString()`) keeps four year digits.
 */
export function parseDateTime(value: string): Date | undefined {
  const m = DATE_TIME_PATTERN.exec(value);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number);
  const calendar = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
  if (
    calendar.getUTCFullYear() !== year ||
    calendar.getUTCMonth() !== month - 1 ||
    calendar.getUTCDate() !== day ||
    calendar.getUTCHours() !== hour ||
    calendar.getUTCMinutes() !== minute ||
    calendar.getUTCSeconds() !== second
  ) {
    return undefined;
  }
  if (m[9] !== undefined && (Number(m[9]) > 23 || Number(m[10]) > 59)) return undefined;
  const instant = new Date(Date.parse(value));
  const utcYear = instant.getUTCFullYear();
  if (Number.isNaN(instant.getTime()) || utcYear < 1000 || utcYear > 9999) return undefined;
  return instant;
}

/** Parses a billing interval written as text (CSV), or undefined. */
export function parseInterval(value: string): number | undefined {
  if (!/^\d{1,5}$/.test(value)) return undefined;
  const seconds = Number(value);
  return seconds >= 1 && seconds <= MAX_INTERVAL_SECONDS ? seconds : undefined;
}

/**
 * Every prefix a rate could have to cover `number` ('+4420' → ['4', '44', '442', '4420']):
 * at most 32, looked up with one `prefix = ANY(...)` index scan.
 */
export function candidatePrefixes(number: string): string[] {
  const digits = number.startsWith('+') ? number.slice(1) : number;
  return Array.from({ length: digits.length }, (_, i) => digits.slice(0, i + 1));
}
