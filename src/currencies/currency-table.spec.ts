import { Big } from '../common/money';
import { CurrencyTable, MissingExchangeRateProblem } from './currency-table';

describe('CurrencyTable', () => {
  const table = new CurrencyTable('USD', new Map([['EUR', '1.1'], ['GBP', '1.25'], ['JPY', '0.0066666667']]));

  it('treats the base currency as 1 and nothing else as 1', () => {
    expect(table.rateOf('USD')!.toString()).toBe('1');
    expect(table.rateOf('CHF')).toBeNull();
    expect(() => table.crossRate('CHF', 'USD')).toThrow(MissingExchangeRateProblem);
  });

  it('converts exactly with rounding half-even to 8 places', () => {
    expect(table.tryConvert('0.1', 'EUR', 'USD')!.plus(table.tryConvert('0.2', 'EUR', 'USD')!).toFixed(8)).toBe('0.33000000');
    expect(table.tryConvert('12.34567891', 'EUR', 'USD')!.toFixed(8)).toBe('13.58024680');
    // 0.00000005 × 0.5 = 0.000000025 → half-even → 0.00000002
    const half = new CurrencyTable('USD', new Map([['EUR', '0.5']]));
    expect(half.tryConvert('0.00000005', 'EUR', 'USD')!.toFixed(8)).toBe('0.00000002');
    expect(half.tryConvert('0.00000007', 'EUR', 'USD')!.toFixed(8)).toBe('0.00000004');
  });

  it('crosses through the base currency for two foreign currencies', () => {
    // 1 GBP = 1.25 USD, 1 EUR = 1.1 USD → 1 GBP = 1.136363636364 EUR (12 places, half-even)
    expect(table.crossRate('GBP', 'EUR').toString()).toBe('1.136363636364');
    expect(table.tryConvert('100', 'GBP', 'EUR')!.toFixed(8)).toBe(new Big('113.6363636364').round(8, 2).toFixed(8));
  });

  it('reports the missing currency by name', () => {
    try {
      table.crossRate('EUR', 'CHF');
      throw new Error('expected a problem');
    } catch (error) {
      expect(error).toBeInstanceOf(MissingExchangeRateProblem);
      expect((error as MissingExchangeRateProblem).members).toEqual({ currency: 'CHF' });
      expect((error as MissingExchangeRateProblem).status).toBe(422);
    }
  });
});
