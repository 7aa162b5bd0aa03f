import { types } from 'pg';
import { canopyTypes, parseTimestamptz } from './types';

const postgresDate = types.getTypeParser(1184, 'text') as (text: string) => Date | number | null;

/** Both parsers' results, comparable (a Date by its time, anything else as it is). */
const both = (text: string) => [parseTimestamptz(text), postgresDate(text)].map((v) => (v instanceof Date ? v.getTime() : v));

describe('parseTimestamptz (the timestamptz parser of Canopy pools)', () => {
  it.each([
    '2026-12-04 00:29:45.058+00',
    '2026-12-04 00:29:45+00',
    '2026-12-04 00:29:45.291+00', // 1000 × 0.291 is 290.99999999999994: postgres-date reads 290 ms
    '2026-12-04 00:29:45.999999+00',
    '2026-12-04 00:29:45.000001+00',
    '2026-12-04 00:29:45.5+05:30',
    '2026-12-04 00:29:45.123456-08',
    '1970-01-01 00:00:00+00',
    '1901-12-13 20:45:52+00:09:21',
    '2000-02-29 23:59:59.9-12',
    '9999-12-31 23:59:59.999999+14',
  ])('reads %s as postgres-date does', (text) => {
    const [fast, reference] = both(text);
    expect(typeof fast).toBe('number');
    expect(fast).toBe(reference);
  });

  it('gives the same Date as postgres-date over 20,000 random instants, offsets and precisions', () => {
    let seed = 42;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const pad = (n: number, width = 2) => String(n).padStart(width, '0');
    for (let i = 0; i < 20_000; i++) {
      const d = new Date(Date.UTC(1000, 0, 1) + Math.floor(random() * (Date.UTC(9999, 0, 1) - Date.UTC(1000, 0, 1))));
      const digits = Math.floor(random() * 7);
      const fraction = digits ? '.' + String(Math.floor(random() * 10 ** digits)).padStart(digits, '0') : '';
      const hours = Math.floor(random() * 15);
      const minutes = random() < 0.5 ? `:${pad(Math.floor(random() * 60))}` : '';
      const text = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}${fraction}${random() < 0.5 ? '+' : '-'}${pad(hours)}${minutes}`;
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
});
