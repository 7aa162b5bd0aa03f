import { Big } from '../common/money';

/**
 * Rating one level of a call (SPEC §13), as pure functions: no database, no caller. The
 * posting (`POST /v1/calls`) and call authorization (`POST /v1/calls/authorize`) both price
 * with these, so that a call is charged exactly what it was authorized at.
 */

/** The terms of a tariff that pricing reads. Money as exact decimal strings. */
export interface TariffTerms {
  id: string;
  currency: string;
  connectFee: string;
  freeSeconds: number;
}

/** The terms of one rate of a tariff. */
export interface RateTerms {
  prefix: string;
  price: string;
  firstInterval: number;
  nextInterval: number;
  connectFee: string;
  effectiveFrom: Date;
}

/** The longest call there is: 24 hours. */
export const MAX_CALL_SECONDS = 86400;

/**
 * The rate that prices `number` at `connectTime`: among `rates` (a tariff's rates, any
 * subset that holds the candidates), those whose prefix begins the number and whose
 * `effectiveFrom` is at or before `connectTime`; the longest prefix wins, and among rates of
 * that prefix the latest `effectiveFrom`. Undefined: no rate (the call cannot be rated).
 */
export function pickRate<R extends RateTerms>(rates: Iterable<R>, number: string, connectTime: Date): R | undefined {
  const digits = number.startsWith('+') ? number.slice(1) : number;
  const at = connectTime.getTime();
  let best: R | undefined;
  for (const rate of rates) {
    if (rate.effectiveFrom.getTime() > at || !digits.startsWith(rate.prefix)) continue;
    if (
      !best ||
      rate.prefix.length > best.prefix.length ||
      (rate.prefix.length === best.prefix.length && rate.effectiveFrom.getTime() > best.effectiveFrom.getTime())
    ) {
      best = rate;
    }
  }
  return best;
}

/**
 * Seconds billed for a call of `duration` seconds: 0 when the call lasted 0 seconds or no
 * longer than the tariff's free seconds; else the first interval, plus the rest rounded up
 * to whole next intervals.
 */
export function billedSeconds(duration: number, freeSeconds: number, rate: Pick<RateTerms, 'firstInterval' | 'nextInterval'>): number {
  if (duration === 0 || duration <= freeSeconds) return 0;
  const rest = Math.max(0, duration - rate.firstInterval);
  return rate.firstInterval + Math.ceil(rest / rate.nextInterval) * rate.nextInterval;
}

const SCALE = 100_000_000n; // 10^8: money in integer units of 10^-8

/** A decimal string with at most 8 fraction digits as an integer count of 10^-8 units. */
function units(value: string): bigint {
  const negative = value.startsWith('-');
  const [whole, fraction = ''] = (negative ? value.slice(1) : value).split('.');
  const n = BigInt(whole) * SCALE + BigInt(fraction.padEnd(8, '0'));
  return negative ? -n : n;
}

/** `numerator / divisor` in integer units, rounded half-even (divisor > 0, numerator ≥ 0). */
function divideHalfEven(numerator: bigint, divisor: bigint): bigint {
  const quotient = numerator / divisor;
  const twice = (numerator % divisor) * 2n;
  if (twice > divisor || (twice === divisor && quotient % 2n === 1n)) return quotient + 1n;
  return quotient;
}

/** Integer units of 10^-8 (≥ 0) back to Big, exactly (as text: no division). */
function fromUnits(value: bigint): Big {
  const digits = value.toString().padStart(9, '0');
  return new Big(`${digits.slice(0, -8)}.${digits.slice(-8)}`);
}

/** What one level of a call costs, in the tariff's currency. */
export interface LevelPrice {
  billedSeconds: number;
  /** 0 when nothing is billed; else both connect fees plus price × billed / 60, half-even to 8 places. */
  amount: Big;
}

/**
 * The price of a call of `duration` seconds at one level: nothing when no second is billed;
 * otherwise the tariff's and the rate's connect fees plus the per-minute price times the
 * billed seconds over 60, rounded half-even to 8 places. Computed in integers of 10^-8, so
 * that no intermediate rounding can move a tie.
 */
export function priceCall(tariff: Pick<TariffTerms, 'connectFee' | 'freeSeconds'>, rate: RateTerms, duration: number): LevelPrice {
  const billed = billedSeconds(duration, tariff.freeSeconds, rate);
  if (billed === 0) return { billedSeconds: 0, amount: new Big(0) };
  const perMinute = divideHalfEven(units(rate.price) * BigInt(billed), 60n);
  return { billedSeconds: billed, amount: fromUnits(units(tariff.connectFee) + units(rate.connectFee) + perMinute) };
}
