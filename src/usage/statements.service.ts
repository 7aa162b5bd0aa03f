import { Injectable } from '@nestjs/common';
import { AccountsRepository } from '../accounts/accounts.repository';
import { ENTRY_ACTIONS } from '../balances/dto/balance-operation.dto';
import { Big, formatMoney } from '../common/money';
import { CustomersRepository } from '../customers/customers.repository';
import { requireAccess } from '../database/access';
import { Caller } from '../tree/caller';
import { StatementDto, StatementTotalsDto } from './dto/statement.dto';
import { StatementsRepository } from './statements.repository';

/**
 * Statements (SPEC §13): one month of a holder's ledger in the holder's own time zone and
 * currency. Any caller that sees the holder may read it (a customer itself or below, an
 * account of its own or below); no right beyond seeing it.
 *
 * openingBalance is the balance after the last entry before the month, closingBalance the
 * balance after the last entry before the next month, and `totals` sums the month's entries
 * per action: as each entry's balanceAfter is the previous one plus its amount, opening +
 * Σ totals = closing, and a month's closing is the next month's opening.
 */
@Injectable()
export class StatementsService {
  constructor(
    private readonly customers: CustomersRepository,
    private readonly accounts: AccountsRepository,
    private readonly figures: StatementsRepository,
  ) {}

  async ofCustomer(caller: Caller, id: string, month: string | undefined): Promise<StatementDto> {
    const row = await requireAccess(this.customers, caller, id, { what: 'customer' });
    return this.statement('customer', row.id, row.time_zone, row.base_currency, month);
  }

  async ofAccount(caller: Caller, id: string, month: string | undefined): Promise<StatementDto> {
    const row = await requireAccess(this.accounts, caller, id, { what: 'account' });
    return this.statement('account', row.id, row.time_zone, row.currency, month);
  }

  private async statement(kind: 'customer' | 'account', id: string, timeZone: string, currency: string, month: string | undefined): Promise<StatementDto> {
    const f = await this.figures.unscopedFigures(kind, id, timeZone, month);
    const totals = Object.fromEntries(ENTRY_ACTIONS.map((action) => [action, formatMoney(f.totals[action] ?? '0')])) as unknown as StatementTotalsDto;
    return {
      holder: { type: kind, id },
      month: f.month,
      timeZone,
      currency,
      from: f.from.toISOString(),
      to: f.to.toISOString(),
      openingBalance: formatMoney(new Big(f.opening ?? '0')),
      totals,
      usage: { calls: f.calls, seconds: f.seconds },
      closingBalance: formatMoney(new Big(f.closing ?? '0')),
    };
  }
}
