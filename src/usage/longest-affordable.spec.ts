import fc from 'fast-check';
import { Big } from '../common/money';
import { longestAffordable, MAX_CALL_SECONDS, priceCall, RateTerms } from './rating';

const rate = (price: string, firstInterval = 1, nextInterval = 1, connectFee = '0'): RateTerms => ({
  prefix: '1',
  price,
  firstInterval,
  nextInterval,
  connectFee,
  effectiveFrom: new Date('2026-01-01T00:00:00Z'),
});
const within = (credit: string) => (amount: Big) => amount.eq(0) || amount.lte(credit);

describe('the longest affordable duration of one level (call authorization)', () => {
  it('is the last second the credit covers, at the billing increments', () => {
    // 0.60 a minute, 60/60: a minute costs 0.60, so 1.00 covers one minute (1.20 would be two).
    expect(longestAffordable({ connectFee: '0', freeSeconds: 0 }, rate('0.60', 60, 60), within('1.00'))).toBe(60);
    // 1/1 billing: 1.00 at 0.60 a minute is 100 seconds exactly.
    expect(longestAffordable({ connectFee: '0', freeSeconds: 0 }, rate('0.60'), within('1.00'))).toBe(100);
    // A connect fee of 0.40 leaves 0.60: 60 seconds.
    expect(longestAffordable({ connectFee: '0.40', freeSeconds: 0 }, rate('0.60'), within('1.00'))).toBe(60);
  });

  it('gives the free seconds even without credit, and 0 when the first interval is out of reach', () => {
    expect(longestAffordable({ connectFee: '0', freeSeconds: 30 }, rate('0.60', 60, 60), within('0'))).toBe(30);
    expect(longestAffordable({ connectFee: '0', freeSeconds: 0 }, rate('0.60', 60, 60), within('0.59'))).toBe(0);
    expect(longestAffordable({ connectFee: '0', freeSeconds: 0 }, rate('0.60', 60, 60), within('-5'))).toBe(0);
  });

  it('is the cap when the price is zero or the credit covers a whole day', () => {
    expect(longestAffordable({ connectFee: '0', freeSeconds: 0 }, rate('0'), within('-5'))).toBe(MAX_CALL_SECONDS);
    expect(longestAffordable({ connectFee: '0', freeSeconds: 0 }, rate('1'), within('1440'))).toBe(MAX_CALL_SECONDS);
    expect(longestAffordable({ connectFee: '0', freeSeconds: 0 }, rate('1'), within('1439.99999999'))).toBe(MAX_CALL_SECONDS - 1);
  });

  it('property: the answer fits and one second more does not, unless it is the cap', () => {
    const money = (max: number) => fc.integer({ min: 0, max }).map((n) => new Big(n).div(1e8).toFixed());
    fc.assert(
      fc.property(
        money(500_000_000),
        fc.integer({ min: 1, max: 600 }),
        fc.integer({ min: 1, max: 600 }),
        money(100_000_000),
        money(100_000_000),
        fc.integer({ min: 0, max: 300 }),
        fc.integer({ min: -1_000_000_000, max: 100_000_000_000 }).map((n) => new Big(n).div(1e8).toFixed()),
        (price, first, next, rateFee, tariffFee, freeSeconds, credit) => {
          const terms = { connectFee: tariffFee, freeSeconds };
          const r = rate(price, first, next, rateFee);
          const fits = within(credit);
          const max = longestAffordable(terms, r, fits);
          expect(fits(priceCall(terms, r, max).amount)).toBe(true);
          if (max < MAX_CALL_SECONDS) expect(fits(priceCall(terms, r, max + 1).amount)).toBe(false);
        },
      ),
      { numRuns: 500 },
    );
  });
});
