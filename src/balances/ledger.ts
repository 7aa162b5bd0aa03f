import { formatMoney, formatRate } from '../common/money';
import { LedgerEntryDto } from './dto/balance-operation.dto';

export interface LedgerRow {
  id: string;
  seq: string;
  action: string;
  amount: string;
  currency: string;
  exchange_rate: string;
  converted_amount: string;
  balance_after: string;
  notes: string | null;
  /** actor_id when the actor lies in the viewer's subtree, else null. */
  visible_actor: string | null;
  idempotency_key: string | null;
  created_at: Date;
}

export function toLedgerEntryDto(row: LedgerRow): LedgerEntryDto {
  return {
    id: row.id,
    action: row.action,
    amount: formatMoney(row.amount),
    currency: row.currency.trim(),
    exchangeRate: formatRate(row.exchange_rate),
    convertedAmount: formatMoney(row.converted_amount),
    balanceAfter: formatMoney(row.balance_after),
    notes: row.notes,
    actor: row.visible_actor,
    idempotencyKey: row.visible_actor ? row.idempotency_key : null,
    createdAt: row.created_at.toISOString(),
  };
}

export interface NewLedgerEntry {
  holder: { kind: 'customer' | 'account'; id: string };
  action: string;
  amount: string;
  currency: string;
  exchangeRate: string;
  convertedAmount: string;
  balanceAfter: string;
  notes: string | null;
  actorId: string;
  idempotencyKey: string | null;
}

export const LEDGER_COLUMNS = `e.id, e.seq, e.action, e.amount, e.currency, e.exchange_rate, e.converted_amount, e.balance_after,
  e.notes, e.idempotency_key, e.created_at`;

/** Appends one immutable ledger entry (the only write the ledger ever accepts). */
export async function appendLedgerEntry(
  manager: { query(sql: string, params?: unknown[]): Promise<unknown> },
  entry: NewLedgerEntry,
): Promise<Omit<LedgerRow, 'visible_actor'>> {
  const rows = (await manager.query(
    `INSERT INTO ledger_entries AS e (customer_id, account_id, action, amount, currency, exchange_rate, converted_amount,
                                 balance_after, notes, actor_id, idempotency_key)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
     RETURNING ${LEDGER_COLUMNS}`,
    [
      entry.holder.kind === 'customer' ? entry.holder.id : null,
      entry.holder.kind === 'account' ? entry.holder.id : null,
      entry.action,
      entry.amount,
      entry.currency,
      entry.exchangeRate,
      entry.convertedAmount,
      entry.balanceAfter,
      entry.notes,
      entry.actorId,
      entry.idempotencyKey,
    ],
  )) as Array<Omit<LedgerRow, 'visible_actor'>>;
  return rows[0];
}

/**
 * The opening balance given at creation is the holder's first ledger entry, so that the
 * balance always equals the sum of the entries. Nothing is written for a zero balance.
 */
export async function appendOpeningBalance(
  manager: { query(sql: string, params?: unknown[]): Promise<unknown> },
  holder: { kind: 'customer' | 'account'; id: string },
  balance: { eq(n: number): boolean; toFixed(dp: number): string },
  currency: string,
  actorId: string,
): Promise<void> {
  if (balance.eq(0)) return;
  const amount = balance.toFixed(8);
  await appendLedgerEntry(manager, {
    holder,
    action: 'opening_balance',
    amount,
    currency,
    exchangeRate: '1',
    convertedAmount: amount,
    balanceAfter: amount,
    notes: null,
    actorId,
    idempotencyKey: null,
  });
}
