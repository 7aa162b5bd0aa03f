import type { Tx } from '../database/writes';
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
  forOperation(caller: Caller, id: string, tx: Tx): Promise<BalanceHolder>;
  forReading(caller: Caller, id: string, tx?: Tx): Promise<BalanceHolder>;
}
