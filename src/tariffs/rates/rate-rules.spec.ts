import { candidatePrefixes, parseDateTime, parseInterval } from './rate-rules';

describe('rate rules', () => {
  it('lists the candidate prefixes of a number, shortest first', () => {
    expect(candidatePrefixes('+4420')).toEqual(['4', '44', '442', '4420']);
    expect(candidatePrefixes('7')).toEqual(['7']);
    expect(candidatePrefixes('1'.repeat(32))).toHaveLength(32);
  });

  it('reads RFC 3339 date-times with a zone, at most milliseconds', () => {
    expect(parseDateTime('2025-01-01T00:00:00Z')?.toISOString()).toBe('2025-01-01T00:00:00.000Z');
    expect(parseDateTime('2024-06-01T12:00:00.5+02:00')?.toISOString()).toBe('2024-06-01T10:00:00.500Z');
    expect(parseDateTime('2024-02-29T23:59:59.999-05:30')?.toISOString()).toBe('2024-03-01T05:29:59.999Z');
  });

  it.each([
    '2025-01-01',
    '2025-01-01T00:00Z',
    '2025-01-01T00:00:00',
    '2025-01-01 00:00:00Z',
    '2025-02-29T00:00:00Z',
    '2025-04-31T00:00:00Z',
    '2025-01-01T24:00:00Z',
    '2025-01-01T00:60:00Z',
    '2025-01-01T00:00:60Z',
    '2025-01-01T00:00:00.1234Z',
    '2025-01-01T00:00:00+24:00',
    '0999-12-31T23:59:59Z',
    '9999-12-31T23:59:59-01:00',
    'yesterday',
  ])('refuses %s', (value) => {
    expect(parseDateTime(value)).toBeUndefined();
  });

  it('reads billing intervals of 1 to 86400 seconds', () => {
    expect(parseInterval('1')).toBe(1);
    expect(parseInterval('86400')).toBe(86400);
    for (const bad of ['0', '86401', '1.5', '-1', '1e3', ' 1', '']) expect(parseInterval(bad)).toBeUndefined();
  });
});
