import fc from 'fast-check';
import { isoTime } from './iso-time';

describe('isoTime', () => {
  it('writes what toISOString writes, for any instant', () => {
    fc.assert(
      fc.property(fc.integer({ min: -8.64e15, max: 8.64e15 }), (t) => {
        const date = new Date(t);
        expect(isoTime(date)).toBe(date.toISOString());
      }),
      { numRuns: 20000 },
    );
  });

  it('writes the edges of months, leap days, centuries and the range it computes', () => {
    const edges = [
      '1970-01-01T00:00:00.000Z', '1970-01-01T00:00:00.001Z', '1999-12-31T23:59:59.999Z', '2000-02-29T12:00:00.000Z', '2000-03-01T00:00:00.000Z',
      '2100-02-28T23:59:59.999Z', '2100-03-01T00:00:00.000Z', '2024-02-29T23:59:59.999Z', '2026-12-04T03:25:45.291Z', '9999-12-31T23:59:59.999Z',
      '1969-12-31T23:59:59.999Z', '0001-01-01T00:00:00.000Z', '+010000-01-01T00:00:00.000Z', '-000001-01-01T00:00:00.000Z',
    ];
    for (const text of edges) expect(isoTime(new Date(text))).toBe(text);
    for (let t = 0; t < 253402300800000; t += 86_399_999 * 7 + 1234) expect(isoTime(new Date(t))).toBe(new Date(t).toISOString());
  });

  it('throws as toISOString does for an invalid date', () => {
    expect(() => isoTime(new Date(NaN))).toThrow(RangeError);
  });
});
