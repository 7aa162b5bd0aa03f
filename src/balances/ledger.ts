import { formatStoredMoney, formatStoredRate } from '../common/money';
import type { Tx } from '../database/writes';
import { LedgerEntryDto } from './dto/balance-operation.dto';
import { HolderKind, LedgerRow, StoredLedgerRow, unscopedAppendOpening, unscopedAppendOpenings } from './ledger.repository';
import { isoTime } from '../common/iso-time';

export type { LedgerRow } from './ledger.repository';

export function toLedgerEntryDto(row: LedgerRow): LedgerEntryDto {
  return storedEntryDto(row, row.visible_actor);
}

/**
 * A stored entry as answered to `actor`'s caller: the actor shown (null: above the viewer, and
 * then no key either). Without copying the row (a batch answers 1,000 of them).
 */
export function storedEntryDto(row: StoredLedgerRow, actor: string | null): LedgerEntryDto {
  return {
    id: row.id,
    action: row.action,
    amount: formatStoredMoney(row.amount),
    currency: row.currency,
    exchangeRate: formatStoredRate(row.exchange_rate),
    convertedAmount: formatStoredMoney(row.converted_amount),
    balanceAfter: formatStoredMoney(row.balance_after),
    notes: row.notes,
    actor,
    idempotencyKey: actor ? row.idempotency_key : null,
    externalReference: row.external_reference,
    metadata: row.metadata ?? {},
    createdAt: isoTime(row.created_at),
  };
}

/**
 * The opening balance given at creation is the holder's first ledger entry, so that the
 * balance always equals the sum of the entries. Nothing is written for a zero balance.
 */
export async function appendOpeningBalance(
  tx: Tx,
  holder: { kind: 'customer' | 'account'; id: string },
  balance: { eq(n: number): boolean; toFixed(dp: number): string },
  currency: string,
  actorId: string,
): Promise<void> {
  if (balance.eq(0)) return;
  await unscopedAppendOpening(tx, holder.kind, holder.id, balance.toFixed(8), currency, actorId);
}

/**
 * The same opening balance for many holders created together (a batch of prepaid cards):
 * each one's first ledger entry, written by one set-based statement. Nothing for a zero balance.
 */
export async function appendOpeningBalances(
  tx: Tx,
  kind: HolderKind,
  holderIds: readonly string[],
  balance: { eq(n: number): boolean; toFixed(dp: number): string },
  currency: string,
  actorId: string,
): Promise<void> {
  if (balance.eq(0)) return;
  await unscopedAppendOpenings(tx, kind, holderIds, balance.toFixed(8), currency, actorId);
}
