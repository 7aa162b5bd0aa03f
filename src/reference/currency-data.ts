import currencyCodes from 'currency-codes';

/** ISO 4217 data from the maintained `currency-codes` package, never a hand-typed list. */
export interface CurrencyInfo {
  code: string;
  name: string;
  numericCode: string;
  minorUnits: number | null;
}

const currencies: CurrencyInfo[] = currencyCodes.data
  .map((c) => ({
    code: c.code,
    name: c.currency,
    numericCode: String(c.number).padStart(3, '0'),
    minorUnits: typeof c.digits === 'number' && !Number.isNaN(c.digits) ? c.digits : null,
  }))
  .sort((a, b) => a.code.localeCompare(b.code));

const byCode = new Map(currencies.map((c) => [c.code, c]));

export function allCurrencies(): readonly CurrencyInfo[] {
  return currencies;
}

export function isCurrencyCode(code: unknown): code is string {
  return typeof code === 'string' && byCode.has(code);
}

export function findCurrency(code: string): CurrencyInfo | undefined {
  return byCode.get(code);
}
