import fc from 'fast-check';
import { Big } from '../common/money';
import { billedSeconds, pickRate, priceCall, RateTerms } from './rating';

const rate = (prefix: string, price: string, from = '2026-01-01T00:00:00Z', firstInterval = 1, nextInterval = 1, connectFee = '0'): RateTerms => ({
  prefix,
  price,
  firstInterval,
  nextInterval,
  connectFee,
  effectiveFrom: new Date(from),
});
const tariff = (freeSeconds = 0, connectFee = '0') => ({ connectFee, freeSeconds });

describe('rating one level (SPEC §13)', () => {
  it('picks the longest prefix in effect at the connect time, the latest effectiveFrom among equals', () => {
    const rates = [
      rate('4', '1', '2026-01-01T00:00:00Z'),
      rate('44', '2', '2026-01-01T00:00:00Z'),
      rate('44', '3', '2026-03-01T00:00:00Z'),
      rate('442', '4', '2026-06-01T00:00:00Z'),
    ];
    expect(pickRate(rates, '+442071', new Date('2026-02-01T00:00:00Z'))?.price).toBe('2');
    expect(pickRate(rates, '442071', new Date('2026-03-01T00:00:00Z'))?.price).toBe('3');
    expect(pickRate(rates, '442071', new Date('2026-06-01T00:00:00Z'))?.price).toBe('4');
    expect(pickRate(rates, '4933', new Date('2026-06-01T00:00:00Z'))?.price).toBe('1');
    expect(pickRate(rates, '4933', new Date('2025-12-31T23:59:59Z'))).toBeUndefined();
    expect(pickRate(rates, '33', new Date('2026-06-01T00:00:00Z'))).toBeUndefined();
  });

  it('bills nothing for a zero or free call, else the first interval and whole next intervals', () => {
    const r = rate('1', '1', undefined, 30, 6);
    expect(billedSeconds(0, 0, r)).toBe(0);
    expect(billedSeconds(10, 10, r)).toBe(0);
    expect(billedSeconds(11, 10, r)).toBe(30);
    expect(billedSeconds(1, 0, r)).toBe(30);
    expect(billedSeconds(30, 0, r)).toBe(30);
    expect(billedSeconds(31, 0, r)).toBe(36);
    expect(billedSeconds(36, 0, r)).toBe(36);
    expect(billedSeconds(37, 0, r)).toBe(42);
  });

  it('prices connect fees plus price × billed / 60, rounded half-even to 8 places', () => {
    // 0.0000003 × 1 / 60 = 0.000000005 → a tie at the 9th place: half-even rounds to 0.
    expect(priceCall(tariff(), rate('1', '0.0000003'), 1).amount.toFixed(8)).toBe('0.00000000');
    // 0.0000009 / 60 = 0.000000015 → rounds to the even 0.00000002.
    expect(priceCall(tariff(), rate('1', '0.0000009'), 1).amount.toFixed(8)).toBe('0.00000002');
    // 0.0000015 / 60 = 0.000000025 → rounds to the even 0.00000002 (half-up would give 3).
    expect(priceCall(tariff(), rate('1', '0.0000015'), 1).amount.toFixed(8)).toBe('0.00000002');
    // 1.5/min for 61 s at 60/60 → 120 s → 3.00, plus 0.10 + 0.05 fees.
    const p = priceCall(tariff(0, '0.10'), rate('1', '1.5', undefined, 60, 60, '0.05'), 61);
    expect(p).toEqual({ billedSeconds: 120, amount: new Big('3.15') });
    // Free: no fees either.
    expect(priceCall(tariff(5, '1'), rate('1', '1', undefined, 1, 1, '1'), 5).amount.toFixed()).toBe('0');
  });

  it('agrees with exact rational arithmetic on random prices and durations', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 14n }), fc.integer({ min: 1, max: 86400 }), fc.integer({ min: 1, max: 120 }), fc.integer({ min: 1, max: 120 }), (priceUnits, duration, first, next) => {
        const price = new Big(priceUnits.toString()).div(1e8).toFixed(8);
        const { billedSeconds: billed, amount } = priceCall(tariff(), rate('1', price, undefined, first, next), duration);
        // Exact: priceUnits × billed / 60 units; half-even by comparing 2×remainder with 60.
        const n = priceUnits * BigInt(billed);
        let q = n / 60n;
        const r2 = (n % 60n) * 2n;
        if (r2 > 60n || (r2 === 60n && q % 2n === 1n)) q += 1n;
        expect(amount.times(1e8).toFixed(0)).toBe(q.toString());
      }),
    );
  });
});
