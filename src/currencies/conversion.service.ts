import { Injectable } from '@nestjs/common';
import { AmountOutOfRangeProblem, Big, convert, fitsMoney, fitsStoredRate } from '../common/money';
import type { Tx } from '../database/writes';
import { Caller } from '../tree/caller';
import { CurrencyTable } from './currency-table';
import { ExchangeRatesRepository } from './exchange-rates.repository';

export interface Conversion {
  /** The rate applied (stored with ledger entries). */
  exchangeRate: Big;
  /** amount × exchangeRate, rounded half-even to 8 places, in the target's base currency. */
  converted: Big;
}

/**
 * The one place money changes currency. An amount posted to customer C in currency X is
 * converted into C's base currency with the table of C's parent (the party that bills C).
 */
@Injectable()
export class ConversionService {
  constructor(private readonly rates: ExchangeRatesRepository) {}

  /** The table of a customer, whoever asks (the billing parent may lie above the caller). */
  async tableOf(customerId: string, manager?: Tx): Promise<CurrencyTable> {
    const table = await this.rates.unscopedTableOf(customerId, manager);
    if (!table) throw new Error(`no customer ${customerId}`);
    return new CurrencyTable(table.baseCurrency, table.rates);
  }

  /** The viewer's own table, for `display` values: read with the caller, no query here. */
  async viewerTable(caller: Caller, _manager?: Tx): Promise<CurrencyTable> {
    return new CurrencyTable(caller.baseCurrency, caller.exchangeRates);
  }

  /**
   * Converts `amount` in `currency` into the base currency of a customer billed by
   * `billingParentId` (the parent's table). Throws a 422 naming a missing rate, and a 422
   * amount-out-of-range when the rate or the result would not fit what a ledger entry stores.
   */
  async toBase(amount: Big | string, currency: string, targetBaseCurrency: string, billingParentId: string, manager?: Tx): Promise<Conversion> {
    if (currency === targetBaseCurrency) return { exchangeRate: new Big(1), converted: new Big(amount) };
    return this.convertWith(await this.tableOf(billingParentId, manager), amount, currency, targetBaseCurrency);
  }

  /** The tables of several customers, read in one query (for a set of postings), by customer id. */
  async tablesOf(customerIds: string[], manager?: Tx): Promise<Map<string, CurrencyTable>> {
    const tables = new Map<string, CurrencyTable>();
    if (!customerIds.length) return tables;
    for (const [id, table] of await this.rates.unscopedTablesOf(customerIds, manager)) tables.set(id, new CurrencyTable(table.baseCurrency, table.rates));
    return tables;
  }

  /** `toBase` with the billing party's table already read (see `tablesOf`). */
  convertWith(table: CurrencyTable, amount: Big | string, currency: string, targetBaseCurrency: string): Conversion {
    if (currency === targetBaseCurrency) return { exchangeRate: new Big(1), converted: new Big(amount) };
    const exchangeRate = table.crossRate(currency, targetBaseCurrency);
    const converted = convert(amount, exchangeRate);
    if (!fitsStoredRate(exchangeRate) || !fitsMoney(converted)) {
      throw new AmountOutOfRangeProblem(`${currency} ${new Big(amount).toFixed()} converts to more than ${targetBaseCurrency} can hold (less than 10^30).`);
    }
    return { exchangeRate, converted };
  }
}
