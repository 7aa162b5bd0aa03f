import { Injectable } from '@nestjs/common';
import { SqlParams } from '../database/sql';
import { EntityManager } from 'typeorm';
import { AccountRow, AccountsRepository } from '../accounts/accounts.repository';
import { Caller } from '../tree/caller';
import { notVisible, subtreeCondition } from '../tree/scope';
import { BalanceHolder, BalanceHolderFinder, FastTarget } from './balance-holders';

const toHolder = (row: AccountRow): BalanceHolder => ({
  kind: 'account',
  id: row.id,
  // Accounts have no currency of their own: their money is in the customer's base currency,
  baseCurrency: row.currency.trim(),
  // and the customer bills them, so its exchange-rate table converts what is posted.
  billingCustomerId: row.customer_id,
  subjectPath: row.customer_path,
});

/**
 * Accounts as balance holders. An account sits below its customer, so the customer itself
 * and everyone above it (all who can see the account) may operate on it.
 */
@Injectable()
export class AccountHolders implements BalanceHolderFinder {
  readonly kind = 'account' as const;
  readonly table = 'accounts' as const;

  constructor(private readonly accounts: AccountsRepository) {}

  async forOperation(caller: Caller, id: string, manager: EntityManager): Promise<BalanceHolder> {
    // Locked first, so an account deleted meanwhile answers 404 rather than failing later.
    const row = await this.accounts.findVisible(caller, id, manager, 'FOR UPDATE');
    if (!row) throw notVisible('account');
    return toHolder(row);
  }

  async forReading(caller: Caller, id: string, manager?: EntityManager): Promise<BalanceHolder> {
    const row = await this.accounts.findVisible(caller, id, manager);
    if (!row) throw notVisible('account');
    return toHolder(row);
  }

  fastTarget(caller: Caller, id: string, params: SqlParams): FastTarget {
    return {
      from: 'FROM customers c',
      where: `h.id = ${params.add(id)} AND h.deleted_at IS NULL AND c.id = h.customer_id AND ${subtreeCondition('c', caller, params, 'self-and-descendants')}`,
      baseCurrency: 'c.base_currency',
      subjectPath: 'c.path',
    };
  }
}
