import { Big, convert, divideRates, formatMoney } from '../common/money';
import { ProblemError } from '../common/problem/problem';

export class MissingExchangeRateProblem extends ProblemError {
  constructor(currency: string) {
    super(
      422,
      'missing-exchange-rate',
      'Missing exchange rate',
      `No exchange rate for ${currency} is set in the table used for this conversion.`,
      { currency },
    );
  }
}

/**
 * One customer's exchange-rate table: the value of 1 unit of each currency in the owner's
 * base currency. The base currency itself is 1; any other missing rate is missing, never 1.
 */
export class CurrencyTable {
  /** Cross rates already computed (a table is a snapshot: they never change; dividing is the slow part). */
  private readonly crossRates = new Map<string, Big>();

  constructor(
    readonly baseCurrency: string,
    private readonly rates: ReadonlyMap<string, string>,
  ) {}

  /** Value of 1 `currency` in the table's base currency, or null when not set. */
  rateOf(currency: string): Big | null {
    if (currency === this.baseCurrency) return new Big(1);
    const rate = this.rates.get(currency);
    return rate === undefined ? null : new Big(rate);
  }

  /**
   * The rate that turns `from` into `to` using this table (cross rate through the base:
   * rate(from) / rate(to), rounded half-even to 12 places). Throws 422 naming a missing one.
   */
  crossRate(from: string, to: string): Big {
    if (from === to) return new Big(1);
    const known = this.crossRates.get(`${from}>${to}`);
    if (known) return known;
    const fromRate = this.rateOf(from);
    if (!fromRate) throw new MissingExchangeRateProblem(from);
    const toRate = this.rateOf(to);
    if (!toRate) throw new MissingExchangeRateProblem(to);
    const rate = divideRates(fromRate, toRate);
    this.crossRates.set(`${from}>${to}`, rate);
    return rate;
  }

  /**
   * A record's `display` (its balance and credit limit in this table's base currency; this is
   * the viewer's own table): in that currency the amounts as already formatted (a rate of 1
   * changes nothing), else converted from their stored text, null where no rate is set.
   */
  displayOf(
    currency: string,
    stored: { balance: string; creditLimit: string },
    formatted: { balance: string; creditLimit: string },
  ): { currency: string; balance: string | null; creditLimit: string | null } {
    if (currency === this.baseCurrency) return { currency, balance: formatted.balance, creditLimit: formatted.creditLimit };
    const shown = (amount: string) => {
      const converted = this.tryConvert(new Big(amount), currency, this.baseCurrency);
      return converted === null ? null : formatMoney(converted);
    };
    return { currency: this.baseCurrency, balance: shown(stored.balance), creditLimit: shown(stored.creditLimit) };
  }

  /** Like crossRate, but null instead of a problem (for display). */
  tryConvert(amount: Big | string, from: string, to: string): Big | null {
    try {
      return convert(amount, this.crossRate(from, to));
    } catch (error) {
      if (error instanceof MissingExchangeRateProblem) return null;
      throw error;
    }
  }
}
