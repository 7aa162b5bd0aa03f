import { EntityManager } from 'typeorm';
import { SqlParams } from '../database/sql';
import { Caller } from '../tree/caller';

/** Whatever has a balance and a ledger: a customer, or (SPEC §7) an account. */
export interface BalanceHolder {
  kind: 'customer' | 'account';
  id: string;
  baseCurrency: string;
  /** The customer whose exchange-rate table converts money posted to this holder. */
  billingCustomerId: string;
  /** Path of the customer the holder is, or belongs to: audit events are scoped by it. */
  subjectPath: string;
}

/**
 * How the one balance implementation finds holders of a kind. `forOperation` answers only
 * for holders strictly below the caller (404 outside the subtree, 403 for the caller itself).
 */
export interface BalanceHolderFinder {
  readonly kind: 'customer' | 'account';
  readonly table: 'customers' | 'accounts';
  forOperation(caller: Caller, id: string, manager: EntityManager): Promise<BalanceHolder>;
  forReading(caller: Caller, id: string, manager?: EntityManager): Promise<BalanceHolder>;
  /**
   * For the one-statement posting: how to reach holder `id` as `h` within the caller's reach
   * (strictly below it), with the holder's base currency and the path its audit events use.
   */
  fastTarget(caller: Caller, id: string, params: SqlParams): FastTarget;
}

export interface FastTarget {
  /** Extra FROM items for the UPDATE (joined customers), or ''. */
  from: string;
  where: string;
  baseCurrency: string;
  subjectPath: string;
}
