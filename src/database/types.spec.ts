import { types } from 'pg';
import { isoTime } from '../common/iso-time';
import { canopyTypes, isoOfTimestamptz, parseTimestamptz } from './types';

const postgresDate = types.getTypeParser(1184, 'text') as (text: string) => Date | number | null;

/**
 * The instant of a text: its whole seconds as postgres-date reads them, plus the fraction's
 * first three digits as milliseconds (postgres-date's `1000 × parseFloat(fraction)` gives the
 * same for every fraction of up to six digits; this does not depend on floats).
 */
function reference(text: string): number | Date | null {
  const parts = /^(.* \d\d:\d\d:\d\d)(?:\.(\d+))?([+-]\d\d(?::\d\d){0,2})$/.exec(text);
  if (!parts) return postgresDate(text);
  const whole = postgresDate(parts[1] + parts[3]);
  return whole instanceof Date ? whole.getTime() + Number(((parts[2] ?? '') + '000').slice(0, 3)) : whole;
}

/** Both results, comparable (a Date by its time, anything else as it is). */
const both = (text: string) => [parseTimestamptz(text), reference(text)].map((v) => (v instanceof Date ? v.getTime() : v));

/** A seeded series of timestamptz texts (years 1000-9998, 0-6 fraction digits), with offsets from `offset`. */
function timestampTexts(seed: number, count: number, offset: (random: () => number, pad: (n: number) => string) => string): string[] {
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const pad = (n: number, width = 2) => String(n).padStart(width, '0');
  const texts: string[] = [];
  for (let i = 0; i < count; i++) {
    const d = new Date(Date.UTC(1000, 0, 1) + Math.floor(random() * (Date.UTC(9999, 0, 1) - Date.UTC(1000, 0, 1))));
    const digits = Math.floor(random() * 7);
    const fraction = digits ? '.' + String(Math.floor(random() * 10 ** digits)).padStart(digits, '0') : '';
    texts.push(
      `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}${fraction}${offset(random, pad)}`,
    );
  }
  return texts;
}

describe('parseTimestamptz (the timestamptz parser of Canopy pools)', () => {
  it.each([
    '2026-12-04 00:29:45.058+00',
    '2026-12-04 00:29:45+00',
    '2026-12-04 00:29:45.291+00',
    '2026-12-04 00:29:45.999999+00',
    '2026-12-04 00:29:45.000001+00',
    '2026-12-04 00:29:45.5+05:30',
    '2026-12-04 00:29:45.123456-08',
    '1970-01-01 00:00:00+00',
    '1901-12-13 20:45:52+00:09:21',
    '2000-02-29 23:59:59.9-12',
    '9999-12-31 23:59:59.999999+14',
  ])('reads %s to the exact millisecond', (text) => {
    const [fast, reference] = both(text);
    expect(typeof fast).toBe('number');
    expect(fast).toBe(reference);
  });

  it('gives the instant, to the millisecond (as postgres-date does), over 20,000 random instants, offsets and precisions', () => {
    const offset = (random: () => number, pad: (n: number) => string) =>
      `${random() < 0.5 ? '+' : '-'}${pad(Math.floor(random() * 15))}${random() < 0.5 ? `:${pad(Math.floor(random() * 60))}` : ''}`;
    for (const text of timestampTexts(42, 20_000, offset)) {
      const [fast, reference] = both(text);
      if (fast !== reference) throw new Error(`${text}: ${fast} against ${reference}`);
    }
  });

  it.each(['infinity', '-infinity', '0044-03-15 12:00:00+00 BC', '0099-01-01 00:00:00+00', '0500-06-01 10:00:00+00', '12026-01-01 00:00:00+00', 'not a time'])(
    'leaves %s to postgres-date',
    (text) => {
      const [fast, reference] = both(text);
      expect(fast).toEqual(reference);
    },
  );

  it('is the parser of timestamptz text only; every other type keeps node-postgres’s', () => {
    expect(canopyTypes.getTypeParser(1184, 'text')).toBe(parseTimestamptz);
    expect(canopyTypes.getTypeParser(1114, 'text')).toBe(types.getTypeParser(1114, 'text'));
    expect(canopyTypes.getTypeParser(1700, 'text')).toBe(types.getTypeParser(1700, 'text'));
    expect(canopyTypes.getTypeParser(1184, 'binary')).toBe(types.getTypeParser(1184, 'binary'));
  });

  it('writes a timestamptz text as toISOString writes its instant, in UTC and any other offset', () => {
    const offset = (random: () => number, pad: (n: number) => string) =>
      random() < 0.7 ? '+00' : `${random() < 0.5 ? '+' : '-'}${pad(Math.floor(random() * 15))}${random() < 0.5 ? ':30' : ''}`;
    for (const text of timestampTexts(7, 20_000, offset)) {
      const expected = isoTime(parseTimestamptz(text) as Date);
      if (isoOfTimestamptz(text) !== expected) throw new Error(`${text}: ${isoOfTimestamptz(text)} against ${expected}`);
    }
    expect(isoOfTimestamptz('2026-12-04 00:29:45+00')).toBe('2026-12-04T00:29:45.000Z');
    expect(isoOfTimestamptz('2026-12-04 00:29:45.5+00')).toBe('2026-12-04T00:29:45.500Z');
    expect(isoOfTimestamptz('2026-12-04 00:29:45.291934+00')).toBe('2026-12-04T00:29:45.291Z');
    expect(isoOfTimestamptz('2026-12-04 00:29:45.29+05:30')).toBe('2026-12-03T18:59:45.290Z');
    expect(isoOfTimestamptz('0500-06-01 10:00:00+00')).toBe(new Date('0500-06-01T10:00:00Z').toISOString());
    expect(() => isoOfTimestamptz('infinity')).toThrow('not a finite timestamptz');
  });
});
