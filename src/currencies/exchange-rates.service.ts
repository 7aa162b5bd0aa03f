import { Injectable } from '@nestjs/common';
import { formatRate } from '../common/money';
import { Page } from '../common/pagination';
import { ValidationProblem } from '../common/problem/problem';
import { CustomerRow, CustomersRepository } from '../customers/customers.repository';
import { AccessOptions, requireAccess } from '../database/access';
import { ChangeRecord, Writes } from '../database/writes';
import { Caller } from '../tree/caller';
import { notVisible } from '../tree/scope';
import { ExchangeRateChangeDto, ExchangeRateDto, ExchangeRateListDto } from './dto/exchange-rate.dto';
import { ExchangeRatesRepository, RateRow } from './exchange-rates.repository';
import { isoTime } from '../common/iso-time';

/** Exchange-rate tables (SPEC §5): the caller's own, or a visible descendant's. */
@Injectable()
export class ExchangeRatesService {
  constructor(
    private readonly rates: ExchangeRatesRepository,
    private readonly customers: CustomersRepository,
    private readonly writes: Writes,
  ) {}

  /** The table's owner: the caller, or a customer of its subtree (404 otherwise), then the right if one is needed. */
  private owner(caller: Caller, customerId: string | undefined, options: AccessOptions = {}): Promise<CustomerRow> {
    return requireAccess(this.customers, caller, customerId ?? caller.customerId, { ...options, what: 'customer' });
  }

  private toDto(owner: CustomerRow, row: RateRow): ExchangeRateDto {
    return {
      currency: row.currency,
      baseCurrency: owner.base_currency,
      rate: formatRate(row.rate),
      updatedAt: isoTime(row.updated_at),
      version: row.version,
    };
  }

  async list(caller: Caller, limit: number, cursor?: string, customerId?: string): Promise<ExchangeRateListDto> {
    const owner = await this.owner(caller, customerId);
    const page = await this.rates.page(caller, owner.id, limit, cursor);
    return { ...page, items: page.items.map((r) => this.toDto(owner, r)) };
  }

  async set(caller: Caller, currency: string, rate: string, customerId?: string): Promise<ExchangeRateDto> {
    const owner = await this.owner(caller, customerId, { permission: 'exchange-rates.manage' });
    if (currency === owner.base_currency) {
      throw new ValidationProblem([{ parameter: 'currency', detail: `${currency} is the table’s base currency; its rate is always 1` }]);
    }
    return this.writes.change(caller.customerId, async (tx) => {
      const previous = await this.rates.findVisible(caller, owner.id, currency, { tx, lock: 'FOR UPDATE' });
      const row = await this.rates.set(caller, tx, owner.id, currency, rate);
      // The owner was found visible just before; gone since (deleted or moved away) is the same 404.
      if (!row) throw notVisible();
      return {
        result: this.toDto(owner, row),
        audit: this.event(owner, 'exchange-rate.set', currency, previous ? { rate: formatRate(previous.rate) } : null, { rate: formatRate(rate) }),
      };
    });
  }

  async remove(caller: Caller, currency: string, customerId?: string): Promise<void> {
    const owner = await this.owner(caller, customerId);
    await this.writes.change(caller.customerId, async (tx) => {
      // The rate's 404 before the right's 403, as for any object.
      const ratesOfOwner = { findVisible: (c: Caller, cur: string, o?: AccessOptions) => this.rates.findVisible(c, owner.id, cur, o) };
      await requireAccess(ratesOfOwner, caller, currency, { tx, lock: 'FOR UPDATE', permission: 'exchange-rates.manage', what: 'exchange rate' });
      const deleted = await this.rates.delete(caller, tx, owner.id, currency);
      return {
        result: undefined,
        audit: this.event(owner, 'exchange-rate.delete', currency, deleted === undefined ? null : { rate: formatRate(deleted) }, null),
      };
    });
  }

  async history(caller: Caller, currency: string, limit: number, cursor?: string, customerId?: string): Promise<Page<ExchangeRateChangeDto>> {
    const owner = await this.owner(caller, customerId);
    const page = await this.rates.historyPage(caller, owner.id, currency, limit, cursor);
    return {
      ...page,
      items: page.items.map((r) => ({ currency: r.currency, rate: r.rate === null ? null : formatRate(r.rate), at: isoTime(r.at) })),
    };
  }

  private event(owner: CustomerRow, action: string, currency: string, before: Record<string, unknown> | null, after: Record<string, unknown> | null): ChangeRecord {
    return { action, targetType: 'exchange-rate', targetId: currency, subjectPath: owner.path, before, after };
  }
}
