import fc from 'fast-check';
import { Big } from '../../common/money';
import { formatDeckRow, parseRateDeck, RATE_DECK_HEADER, RateDeck, RateDeckProblem } from './rate-deck';
import { prefersCsv } from './rates.controller';

/** What the database would give back for a parsed deck (NUMERIC(38,8) keeps 8 places). */
function asStored(deck: RateDeck) {
  return deck.prefixes.map((prefix, i) => ({
    prefix,
    price: new Big(deck.prices[i]).toFixed(8),
    first_interval: deck.firstIntervals[i],
    next_interval: deck.nextIntervals[i],
    connect_fee: new Big(deck.connectFees[i]).toFixed(8),
    effective_from: new Date(deck.effectiveFroms[i]!),
  }));
}

describe('rate decks', () => {
  it('parses a deck into columns, with defaults for empty optional fields', () => {
    const deck = parseRateDeck(`${RATE_DECK_HEADER}\n44,0.02,,,,2025-01-01T00:00:00Z\n4420,1,60,6,0.5,\n`);
    expect(deck).toEqual({
      prefixes: ['44', '4420'],
      prices: ['0.02', '1'],
      firstIntervals: [1, 60],
      nextIntervals: [1, 6],
      connectFees: ['0', '0.5'],
      effectiveFroms: ['2025-01-01T00:00:00.000Z', null],
    });
  });

  it('counts every error but lists at most 100', () => {
    const rows = Array.from({ length: 120 }, () => 'x,y,1,1,0,');
    try {
      parseRateDeck([RATE_DECK_HEADER, ...rows].join('\n'));
      throw new Error('no problem');
    } catch (error) {
      expect(error).toBeInstanceOf(RateDeckProblem);
      const problem = error as RateDeckProblem;
      expect(problem.members.errorCount).toBe(240);
      expect(problem.members.errors).toHaveLength(100);
      expect(problem.message).toContain('240 error(s) in 120 row(s)');
    }
  });

  it('formats canonically: the values survive, and formatting what was formatted changes nothing', () => {
    const money = fc
      .tuple(fc.nat({ max: 10 ** 9 }), fc.nat({ max: 10 ** 8 - 1 }), fc.integer({ min: 0, max: 8 }))
      .map(([whole, fraction, places]) => (places ? `${whole}.${String(fraction).padStart(8, '0').slice(0, places)}` : `${whole}`));
    const row = fc.record({
      prefix: fc.stringMatching(/^\d{1,32}$/),
      price: money,
      first: fc.integer({ min: 1, max: 86400 }),
      next: fc.integer({ min: 1, max: 86400 }),
      fee: money,
      at: fc.integer({ min: Date.UTC(1970, 0, 1), max: Date.UTC(9999, 0, 1) }),
    });
    fc.assert(
      fc.property(fc.uniqueArray(row, { selector: (r) => `${r.prefix} ${r.at}`, maxLength: 20 }), (rows) => {
        const csv = [RATE_DECK_HEADER, ...rows.map((r) => `${r.prefix},${r.price},${r.first},${r.next},${r.fee},${new Date(r.at).toISOString()}`)].join('\n');
        const parsed = parseRateDeck(csv);
        const once = RATE_DECK_HEADER + '\n' + asStored(parsed).map(formatDeckRow).join('');
        const reread = parseRateDeck(once);
        rows.forEach((r, i) => {
          expect(new Big(reread.prices[i]).eq(new Big(r.price))).toBe(true);
          expect(new Big(reread.connectFees[i]).eq(new Big(r.fee))).toBe(true);
          expect(Date.parse(reread.effectiveFroms[i]!)).toBe(r.at);
        });
        const twice = RATE_DECK_HEADER + '\n' + asStored(parseRateDeck(once)).map(formatDeckRow).join('');
        expect(twice).toBe(once);
      }),
    );
  });

  it('negotiates CSV only when asked for explicitly', () => {
    expect(prefersCsv(undefined)).toBe(false);
    expect(prefersCsv('*/*')).toBe(false);
    expect(prefersCsv('application/json, text/csv')).toBe(false);
    expect(prefersCsv('text/csv;q=0, */*')).toBe(false);
    expect(prefersCsv('text/csv')).toBe(true);
    expect(prefersCsv('text/csv, */*;q=0.8')).toBe(true);
    expect(prefersCsv('application/json;q=0.5, text/csv')).toBe(true);
  });
});
