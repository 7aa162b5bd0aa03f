import { Big, convert, formatMoney, parseMoney, roundMoney } from './money';

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

  it('rejects what is not a decimal string', () => {
    for (const bad of ['1e5', '1.123456789', '', ' 1', '01', '1.', '.5', 'NaN']) {
      expect(() => parseMoney(bad)).toThrow();
    }
  });
});
