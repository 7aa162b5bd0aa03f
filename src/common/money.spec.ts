import fc from 'fast-check';
import { Big, convert, formatMoney, formatRate, formatStoredMoney, formatStoredRate, parseMoney, roundMoney } from './money';

describe('money', () => {
  it('adds exactly', () => {
    expect(formatMoney(parseMoney('0.1').plus(parseMoney('0.2')))).toBe('0.30');
    expect(formatMoney(parseMoney('0.00000001').plus('0.00000002'))).toBe('0.00000003');
  });

  it('rounds half-even at 8 places', () => {
    expect(roundMoney(new Big('0.000000025')).toFixed(8)).toBe('0.00000002');
    expect(roundMoney(new Big('0.000000035')).toFixed(8)).toBe('0.00000004');
    expect(roundMoney(new Big('-0.000000025')).toFixed(8)).toBe('-0.00000002');
  });

  it('converts with a rate and rounds half-even', () => {
    expect(convert('10', '0.12345678').toFixed(8)).toBe('1.23456780');
    expect(convert('0.00000005', '0.5').toFixed(8)).toBe('0.00000002');
    expect(convert('0.00000015', '0.5').toFixed(8)).toBe('0.00000008');
  });

  it('formats canonically with at least two places', () => {
    expect(formatMoney('12.5')).toBe('12.50');
    expect(formatMoney('12.12345678')).toBe('12.12345678');
    expect(formatMoney('-0')).toBe('0.00');
    expect(formatMoney('1e21')).toBe('1000000000000000000000.00');
    expect(formatMoney('7', 0)).toBe('7');
  });

  /**
   * A formatter of stored text held to its big.js twin: on a table (stored → shown) and on any
   * value PostgreSQL prints for NUMERIC(38, places) (always `places` decimals), and shorter texts.
   */
  function holdsToBigJs(fast: (text: string) => string, slow: (text: string) => string, table: string[][], places: number, wholeDigits: number, signed: boolean) {
    for (const [stored, shown] of table) {
      expect([stored, fast(stored)]).toEqual([stored, shown]);
      expect(fast(stored)).toBe(slow(stored));
    }
    const digits = (min: number, max: number) => fc.stringMatching(new RegExp(`^[0-9]{${min},${max}}$`));
    fc.assert(
      fc.property(fc.boolean(), digits(1, wholeDigits), digits(0, places), fc.boolean(), (negative, whole, fraction, padded) => {
        const w = whole.replace(/^0+(?=\d)/, '');
        const f = padded ? fraction.padEnd(places, '0') : fraction;
        const text = `${signed && negative ? '-' : ''}${w}${f ? `.${f}` : ''}`;
        expect(fast(text)).toBe(slow(text));
      }),
      { numRuns: 2000 },
    );
  }

  it('formats a stored amount by its text exactly as formatMoney does', () => {
    const table = [
      ['12.50000000', '12.50'],
      ['12.00000000', '12.00'],
      ['0.00000000', '0.00'],
      ['-0.00000000', '0.00'],
      ['-3.10000000', '-3.10'],
      ['0.12345678', '0.12345678'],
      ['100.10000000', '100.10'],
      ['12.5', '12.50'],
      ['12', '12.00'],
      ['1e21', '1000000000000000000000.00'],
      ['99999999999999999999999999999.99999999', '99999999999999999999999999999.99999999'],
    ];
    holdsToBigJs(formatStoredMoney, formatMoney, table, 8, 30, true);
  });

  it('formats a stored rate by its text exactly as formatRate does', () => {
    const table = [
      ['1.000000000000', '1.0'],
      ['0.800000000000', '0.8'],
      ['0.000000000001', '0.000000000001'],
      ['1234.567890123400', '1234.5678901234'],
      ['2', '2.0'],
      ['2.5', '2.5'],
      ['1e3', '1000.0'],
    ];
    // Rates are positive.
    holdsToBigJs(formatStoredRate, formatRate, table, 12, 26, false);
  });

  it('rejects what is not a decimal string', () => {
    for (const bad of ['1e5', '1.123456789', '', ' 1', '01', '1.', '.5', 'NaN']) {
      expect(() => parseMoney(bad)).toThrow();
    }
  });
});
