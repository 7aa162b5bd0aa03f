import Big from 'big.js';
import { ProblemError } from './problem/problem';

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

/** A stored amount as PostgreSQL sends NUMERIC(38,8): plain digits, at most 8 decimals, no exponent. */
const STORED_MONEY = /^-?(0|[1-9]\d*)(\.\d{1,8})?$/;

/**
 * `formatMoney` of a stored amount's text (a NUMERIC(38,8) column as node-postgres returns it,
 * "12.50000000"), by string operations alone: the digits are already exact and rounded, so
 * only trailing zeros beyond two places go. A list page formats four amounts per row; through
 * big.js (parse, round, print, three regular expressions) or in SQL (`formatMoneySql`: 0.67 ms
 * of PostgreSQL CPU per page of 51 customers) that was most of the money's cost. Anything
 * else (an exponent, more places) goes through `formatMoney`; src/common/money.spec.ts holds
 * the two to the same outputs.
 */
export function formatStoredMoney(text: string): string;
/** An optional amount (a NULL column): null stays null. */
export function formatStoredMoney(text: string | null): string | null;
export function formatStoredMoney(text: string | null): string | null {
  if (text === null) return null;
  if (!STORED_MONEY.test(text)) return formatMoney(text);
  const dot = text.indexOf('.');
  if (dot < 0) return text === '-0' ? '0.00' : `${text}.00`;
  let end = text.length;
  while (end > dot + 3 && text.charCodeAt(end - 1) === 48 /* 0 */) end--;
  const result = end === dot + 2 ? `${text.slice(0, end)}0` : text.slice(0, end);
  // -0.00 (a negative zero cannot be stored, but a sum of texts could say so) reads 0.00.
  return result.charCodeAt(0) === 45 /* - */ && /^-0\.0+$/.test(result) ? result.slice(1) : result;
}

/**
 * `formatMoney` as an SQL expression over a NUMERIC(38,8) value (at least two decimals, no
 * trailing zeros beyond them), for a statement that writes the text itself: the audit event
 * of a one-statement posting, whose balance after is known only there. Kept beside
 * `formatMoney` so that the rule is written in one place; test/balances.e2e-spec.ts holds
 * the two to the same outputs.
 */
export function formatMoneySql(numericExpr: string): string {
  return `(CASE WHEN scale(trim_scale(${numericExpr})) <= 2 THEN round(${numericExpr}, 2)::text ELSE trim_scale(${numericExpr})::text END)`;
}

/** amount × rate, rounded half-even to 8 places. */
export function convert(amount: Big | string, rate: Big | string): Big {
  return roundMoney(new Big(amount).times(new Big(rate)));
}

export { Big };

/**
 * Exchange rates keep up to 12 fraction digits (conversions still round to 8) and at most 12
 * integer digits: a rate lies in [0.000000000001, 999999999999.999999999999], so a cross rate
 * (one rate divided by another) stays below 1e24 and fits the NUMERIC(38,12) of ledger entries.
 */
export const RATE_SCALE = 12;
export const RATE_PATTERN = /^(0|[1-9]\d{0,11})(\.\d{1,12})?$/;

/** NUMERIC(38,8) (money) holds |x| < 1e30; NUMERIC(38,12) (rates on ledger entries) |x| < 1e26. */
export const MONEY_LIMIT = new Big('1e30');
const STORED_RATE_LIMIT = new Big('1e26');

/** SPEC §6: an amount, conversion or rate whose result does not fit the stored precision. */
export class AmountOutOfRangeProblem extends ProblemError {
  constructor(detail = 'The result does not fit the stored precision (NUMERIC(38,8): less than 10^30 in absolute value).') {
    super(422, 'amount-out-of-range', 'Amount out of range', detail);
  }
}

/** Whether a money value fits NUMERIC(38,8) once rounded to 8 places. */
export function fitsMoney(value: Big): boolean {
  return roundMoney(value).abs().lt(MONEY_LIMIT);
}

/** Whether a rate fits the NUMERIC(38,12) stored on ledger entries once rounded. */
export function fitsStoredRate(value: Big): boolean {
  return value.round(RATE_SCALE, ROUND_HALF_EVEN).abs().lt(STORED_RATE_LIMIT);
}

/** Canonical text of a rate: no exponent, no trailing zeros beyond one decimal. */
export function formatRate(value: Big | string): string {
  const text = new Big(value).round(RATE_SCALE, ROUND_HALF_EVEN).toFixed(RATE_SCALE).replace(/0+$/, '');
  return text.endsWith('.') ? text + '0' : text;
}

/** A stored rate as PostgreSQL sends NUMERIC(38,12): plain digits, at most 12 decimals, no exponent. */
const STORED_RATE = /^(0|[1-9]\d*)(\.\d{1,12})?$/;

/**
 * `formatRate` of a stored rate's text (a NUMERIC(38,12) column, "1.000000000000"), by string
 * operations alone, as formatStoredMoney does for amounts: the digits are already exact and
 * rounded, so only trailing zeros beyond one place go. Anything else goes through `formatRate`;
 * src/common/money.spec.ts holds the two to the same outputs.
 */
export function formatStoredRate(text: string): string {
  if (!STORED_RATE.test(text)) return formatRate(text);
  const dot = text.indexOf('.');
  if (dot < 0) return `${text}.0`;
  let end = text.length;
  while (end > dot + 2 && text.charCodeAt(end - 1) === 48 /* 0 */) end--;
  return text.slice(0, end);
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
