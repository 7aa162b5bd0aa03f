import { Injectable } from '@nestjs/common';
import type { Tx } from '../database/writes';
import { notADescendant, requireAccess } from '../database/access';
import { CustomerRow, CustomersRepository } from '../customers/customers.repository';
import { Caller } from '../tree/caller';
import { BalanceHolder, BalanceHolderFinder } from './balance-holders';

const toHolder = (row: CustomerRow): BalanceHolder => ({
  kind: 'customer',
  id: row.id,
  baseCurrency: row.base_currency,
  billingCustomerId: row.parent_id!,
  subjectPath: row.path,
});

@Injectable()
export class CustomerHolders implements BalanceHolderFinder {
  readonly kind = 'customer' as const;

  constructor(private readonly customers: CustomersRepository) {}

  async forOperation(caller: Caller, id: string, manager: Tx): Promise<BalanceHolder> {
    const row = await requireAccess(this.customers, caller, id, { tx: manager, what: 'customer' });
    if (row.id === caller.customerId) {
      throw notADescendant('Only a customer above the target may operate on its balance; a customer never operates on its own.');
    }
    return toHolder(row);
  }

  async forReading(caller: Caller, id: string, manager?: Tx): Promise<BalanceHolder> {
    return toHolder(await requireAccess(this.customers, caller, id, { tx: manager, what: 'customer' }));
  }
}
