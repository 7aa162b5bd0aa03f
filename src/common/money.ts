import Big from 'big.js';

/**
 * Money is exact decimal: strings at the edges, Big inside, NUMERIC in PostgreSQL.
 * No `number` ever holds money.
 */
export const MONEY_SCALE = 8;
/** A decimal string with at most 8 fraction digits; optional leading minus. */
export const DECIMAL_PATTERN = /^-?(0|[1-9]\d{0,21})(\.\d{1,8})?$/;
export const NON_NEGATIVE_DECIMAL_PATTERN = /^(0|[1-9]\d{0,21})(\.\d{1,8})?$/;
const ROUND_HALF_EVEN = 2; // Big.roundHalfEven

export function parseMoney(value: string): Big {
  if (!DECIMAL_PATTERN.test(value)) throw new Error(`not a decimal string: ${value}`);
  return new Big(value);
}

/** Rounds half-even to 8 places (Big's default is half-up, so the mode is explicit). */
export function roundMoney(value: Big, scale = MONEY_SCALE): Big {
  return value.round(scale, ROUND_HALF_EVEN);
}

/**
 * Canonical string: no exponent, trailing zeros kept to at least `minScale` places so that
 * "12.5" reads "12.50" for a two-decimal currency. Never more than 8 places.
 */
export function formatMoney(value: Big | string, minScale = 2): string {
  const big = roundMoney(typeof value === 'string' ? new Big(value) : value);
  let text = big.toFixed(MONEY_SCALE);
  text = text.replace(/0+$/, '');
  const [whole, fraction = ''] = text.split('.');
  const padded = fraction.padEnd(minScale, '0');
  const result = padded.length ? `${whole}.${padded}` : whole;
  return result === '-0' || /^-0\.0*$/.test(result) ? result.slice(1) : result;
}

/** amount × rate, rounded half-even to 8 places. */
export function convert(amount: Big | string, rate: Big | string): Big {
  return roundMoney(new Big(amount).times(new Big(rate)));
}

export { Big };

/** Exchange rates keep up to 12 fraction digits (conversions still round to 8). */
export const RATE_SCALE = 12;
export const RATE_PATTERN = /^(0|[1-9]\d{0,25})(\.\d{1,12})?$/;

/** Canonical text of a rate: no exponent, no trailing zeros beyond one decimal. */
export function formatRate(value: Big | string): string {
  const text = new Big(value).round(RATE_SCALE, ROUND_HALF_EVEN).toFixed(RATE_SCALE).replace(/0+$/, '');
  return text.endsWith('.') ? text + '0' : text;
}

/** a / b with enough precision, rounded half-even to the rate scale. */
export function divideRates(a: Big | string, b: Big | string): Big {
  const previous = Big.DP;
  Big.DP = 30;
  try {
    return new Big(a).div(new Big(b)).round(RATE_SCALE, ROUND_HALF_EVEN);
  } finally {
    Big.DP = previous;
  }
}
