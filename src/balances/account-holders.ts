import { Injectable } from '@nestjs/common';
import type { Tx } from '../database/writes';
import { AccountRow, AccountsRepository } from '../accounts/accounts.repository';
import { Caller } from '../tree/caller';
import { requireAccess } from '../database/access';
import { BalanceHolder, BalanceHolderFinder } from './balance-holders';

const toHolder = (row: AccountRow): BalanceHolder => ({
  kind: 'account',
  id: row.id,
  // Accounts have no currency of their own: their money is in the customer's base currency,
  baseCurrency: row.currency,
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

  constructor(private readonly accounts: AccountsRepository) {}

  async forOperation(caller: Caller, id: string, manager: Tx): Promise<BalanceHolder> {
    // Locked first, so an account deleted meanwhile answers 404 rather than failing later.
    return toHolder(await requireAccess(this.accounts, caller, id, { tx: manager, lock: 'FOR UPDATE', what: 'account' }));
  }

  async forReading(caller: Caller, id: string, manager?: Tx): Promise<BalanceHolder> {
    return toHolder(await requireAccess(this.accounts, caller, id, { tx: manager, what: 'account' }));
  }
}
