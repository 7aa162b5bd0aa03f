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

  it('formats a stored amount by its text exactly as formatMoney does', () => {
    for (const [stored, shown] of [
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
    ]) {
      expect([stored, formatStoredMoney(stored)]).toEqual([stored, shown]);
      expect(formatStoredMoney(stored)).toBe(formatMoney(stored));
    }
    // Any NUMERIC(38,8) value as PostgreSQL prints it (always eight places), and shorter texts.
    const digits = (min: number, max: number) => fc.stringMatching(new RegExp(`^[0-9]{${min},${max}}$`));
    fc.assert(
      fc.property(fc.boolean(), digits(1, 30), digits(0, 8), fc.boolean(), (negative, whole, fraction, padded) => {
        const w = whole.replace(/^0+(?=\d)/, '');
        const f = padded ? fraction.padEnd(8, '0') : fraction;
        const text = `${negative ? '-' : ''}${w}${f ? `.${f}` : ''}`;
        expect(formatStoredMoney(text)).toBe(formatMoney(text));
      }),
      { numRuns: 2000 },
    );
  });

  it('formats a stored rate by its text exactly as formatRate does', () => {
    for (const [stored, shown] of [
      ['1.000000000000', '1.0'],
      ['0.800000000000', '0.8'],
      ['0.000000000001', '0.000000000001'],
      ['1234.567890123400', '1234.5678901234'],
      ['2', '2.0'],
      ['2.5', '2.5'],
      ['1e3', '1000.0'],
    ]) {
      expect([stored, formatStoredRate(stored)]).toEqual([stored, shown]);
      expect(formatStoredRate(stored)).toBe(formatRate(stored));
    }
    // Any NUMERIC(38,12) rate as PostgreSQL prints it (always twelve places), and shorter texts.
    const digits = (min: number, max: number) => fc.stringMatching(new RegExp(`^[0-9]{${min},${max}}$`));
    fc.assert(
      fc.property(digits(1, 26), digits(0, 12), fc.boolean(), (whole, fraction, padded) => {
        const w = whole.replace(/^0+(?=\d)/, '');
        const f = padded ? fraction.padEnd(12, '0') : fraction;
        const text = `${w}${f ? `.${f}` : ''}`;
        expect(formatStoredRate(text)).toBe(formatRate(text));
      }),
      { numRuns: 2000 },
    );
  });

  it('rejects what is not a decimal string', () => {
    for (const bad of ['1e5', '1.123456789', '', ' 1', '01', '1.', '.5', 'NaN']) {
      expect(() => parseMoney(bad)).toThrow();
    }
  });
});
