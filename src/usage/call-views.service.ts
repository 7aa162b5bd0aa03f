import { Injectable } from '@nestjs/common';
import { AccountsRepository } from '../accounts/accounts.repository';
import { Big, formatMoney } from '../common/money';
import { Page } from '../common/pagination';
import { NotFoundProblem, ValidationProblem } from '../common/problem/problem';
import { CustomersRepository } from '../customers/customers.repository';
import { requireAccess } from '../database/access';
import { parseDateTime } from '../tariffs/rates/rate-rules';
import { Caller, isAccountCaller } from '../tree/caller';
import { pathInScope } from '../tree/scope';
import { toCallView } from './call-view';
import { CallListFilter, CallViewsRepository, UsageRange, UsageRow, VisibleCall } from './call-views.repository';
import { CallDto } from './dto/call.dto';
import { CallListQueryDto } from './dto/call-query.dto';
import { MAX_USAGE_DAYS, UsageGroupDto, UsagePageDto, UsageQueryDto } from './dto/usage.dto';

const DAY_MS = 86_400_000;
const dayNumber = (date: string) => Date.parse(`${date}T00:00:00Z`) / DAY_MS;

/**
 * The views of rated calls and the usage reports (SPEC §13): every call and every figure from
 * the viewer's side (the rows it sold), through `toCallView`; nothing above the viewer.
 */
@Injectable()
export class CallViewsService {
  constructor(
    private readonly views: CallViewsRepository,
    private readonly customers: CustomersRepository,
    private readonly accounts: AccountsRepository,
  ) {}

  private view(caller: Caller, found: VisibleCall): CallDto {
    return toCallView(caller, found.call, found.charges);
  }

  async get(caller: Caller, id: string): Promise<CallDto> {
    const found = await this.views.findVisible(caller, id);
    if (!found) throw new NotFoundProblem('call');
    return this.view(caller, found);
  }

  async list(caller: Caller, query: CallListQueryDto, limit: number): Promise<Page<CallDto>> {
    const from = query.from !== undefined ? parseDateTime(query.from) : undefined;
    const to = query.to !== undefined ? parseDateTime(query.to) : undefined;
    if (from && to && from > to) throw new ValidationProblem([{ parameter: 'from', detail: 'from must not be after to' }]);
    let source: CallListFilter['source'];
    if (query.accountId) {
      const account = await requireAccess(this.accounts, caller, query.accountId, { what: 'account' });
      if (query.customerId && query.customerId !== account.customer_id) {
        // Both filters: the account must be one of that customer's (or its subtree's) accounts.
        const customer = await requireAccess(this.customers, caller, query.customerId, { what: 'customer' });
        const base = { ...caller, customerId: customer.id, path: customer.path, depth: customer.depth };
        const inside = query.scope === 'subtree' && pathInScope(base, account.customer_path, 'self-and-descendants');
        if (!inside) return { items: [], nextCursor: null };
      }
      source = { kind: 'account', accountId: account.id };
    } else if (query.customerId) {
      const customer = await requireAccess(this.customers, caller, query.customerId, { what: 'customer' });
      source = query.scope === 'subtree' ? { kind: 'sold', sellerId: customer.id } : { kind: 'own', customerId: customer.id };
    } else if (isAccountCaller(caller)) {
      // An account principal: its own calls (and, below, only its own charge).
      source = { kind: 'account', accountId: caller.accountId };
    } else {
      source = query.scope === 'own' ? { kind: 'own', customerId: caller.customerId } : { kind: 'sold', sellerId: caller.customerId };
    }
    const number = query.number?.replace(/^\+/, '');
    const page = await this.views.list(caller, { source, from, to, numberPrefix: number }, query.cursor, limit);
    return { items: page.items.map((found) => this.view(caller, found)), nextCursor: page.nextCursor };
  }

  async usage(caller: Caller, query: UsageQueryDto, limit: number): Promise<UsagePageDto> {
    const side = query.customerId ? await requireAccess(this.customers, caller, query.customerId, { what: 'customer' }) : undefined;
    const { timeZone, today } = await this.views.timeZoneOf(caller);
    const to = query.to ?? today;
    const from = query.from ?? `${to.slice(0, 8)}01`;
    if (dayNumber(from) > dayNumber(to)) throw new ValidationProblem([{ parameter: 'from', detail: 'from must not be after to' }]);
    if (dayNumber(to) - dayNumber(from) + 1 > MAX_USAGE_DAYS) {
      throw new ValidationProblem([{ parameter: 'to', detail: `a report covers at most ${MAX_USAGE_DAYS} days` }]);
    }
    const groupBy = query.groupBy ?? 'day';
    const currency = side?.base_currency ?? caller.baseCurrency;
    const range: UsageRange = { sellerId: side?.id ?? caller.customerId, timeZone, from, to, groupBy };
    // The rollup answers when every call of the range was rolled up in this zone; else the sold rows do, exactly.
    const page = (await this.views.rolledUpElsewhere(range))
      ? await this.views.usageFromCharges(caller, range, query.cursor, limit)
      : await this.views.usageFromRollup(caller, range, query.cursor, limit);
    return {
      from,
      to,
      timeZone,
      groupBy,
      customerId: range.sellerId,
      currency,
      items: page.items.map((row) => toUsageGroup(row, currency)),
      nextCursor: page.nextCursor,
    };
  }
}

function toUsageGroup(row: UsageRow, currency: string): UsageGroupDto {
  const revenue = new Big(row.revenue);
  const cost = new Big(row.cost);
  return {
    key: row.key,
    calls: Number(row.calls),
    seconds: Number(row.seconds),
    billedSeconds: Number(row.billed_seconds),
    revenue: formatMoney(revenue),
    cost: formatMoney(cost),
    margin: formatMoney(revenue.minus(cost)),
    currency,
  };
}
