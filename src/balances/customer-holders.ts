import { Injectable } from '@nestjs/common';
import { SqlParams } from '../database/sql';
import { EntityManager } from 'typeorm';
import { ProblemError } from '../common/problem/problem';
import { CustomerRow, CustomersRepository } from '../customers/customers.repository';
import { Caller } from '../tree/caller';
import { notVisible, subtreeCondition } from '../tree/scope';
import { BalanceHolder, BalanceHolderFinder, FastTarget } from './balance-holders';

const toHolder = (row: CustomerRow): BalanceHolder => ({
  kind: 'customer',
  id: row.id,
  baseCurrency: row.base_currency.trim(),
  billingCustomerId: row.parent_id!,
  subjectPath: row.path,
});

@Injectable()
export class CustomerHolders implements BalanceHolderFinder {
  readonly kind = 'customer' as const;
  readonly table = 'customers' as const;

  constructor(private readonly customers: CustomersRepository) {}

  async forOperation(caller: Caller, id: string, manager: EntityManager): Promise<BalanceHolder> {
    const row = await this.customers.findVisible(caller, id, 'self-and-descendants', manager);
    if (!row) throw notVisible();
    if (row.id === caller.customerId) {
      throw new ProblemError(
        403,
        'not-a-descendant',
        'Forbidden',
        'Only a customer above the target may operate on its balance; a customer never operates on its own.',
      );
    }
    return toHolder(row);
  }

  async forReading(caller: Caller, id: string, manager?: EntityManager): Promise<BalanceHolder> {
    const row = await this.customers.findVisible(caller, id, 'self-and-descendants', manager);
    if (!row) throw notVisible();
    return toHolder(row);
  }

  fastTarget(caller: Caller, id: string, params: SqlParams): FastTarget {
    return {
      from: '',
      where: `h.id = ${params.add(id)} AND ${subtreeCondition('h', caller, params, 'descendants')}`,
      baseCurrency: 'h.base_currency',
      subjectPath: 'h.path',
    };
  }
}
