import { formatMoneySql } from '../common/money';
import { rateSql } from '../events/ledger-events';

/**
 * The `changes` of a balance operation's audit event (SPEC §9), as the audit log shows them:
 * `{after: {customerId | accountId, amount, currency, exchangeRate, convertedAmount,
 * balanceAfter}}`, every value the entry's. THE posting statement stores none (migration
 * 1765300100000-BalanceAuditRenderedOnRead): they are rendered from the entry the event names
 * (`target_id`, joined by `balanceOperationEntryJoin`) when the log is read. Ledger entries never
 * change, so this is what a copy would have held; an event written before keeps its copy
 * (`audit.changes`, which wins).
 */
export function balanceOperationChangesSql(audit: string, entry: string): string {
  const l = entry;
  return `COALESCE(${audit}.changes, CASE WHEN ${l}.id IS NOT NULL THEN jsonb_build_object('after', jsonb_build_object(
    CASE WHEN ${l}.account_id IS NULL THEN 'customerId' ELSE 'accountId' END, COALESCE(${l}.customer_id, ${l}.account_id),
    'amount', ${formatMoneySql(`${l}.amount`)}, 'currency', ${l}.currency, 'exchangeRate', ${rateSql(`${l}.exchange_rate`)},
    'convertedAmount', ${formatMoneySql(`${l}.converted_amount`)}, 'balanceAfter', ${formatMoneySql(`${l}.balance_after`)})) END)`;
}

/**
 * The join giving `balanceOperationChangesSql` the entry `entry` of the audit event `audit`
 * (none for an event that stores its changes). The target id is cast only for a balance
 * operation's event (a CASE): other events' target ids need not be UUIDs, and a join condition's
 * parts may be evaluated in any order.
 */
export const balanceOperationEntryJoin = (audit: string, entry: string) =>
  `LEFT JOIN ledger_entries ${entry}
     ON ${entry}.id = CASE WHEN ${audit}.changes IS NULL AND ${audit}.target_type = 'balance-operation' THEN ${audit}.target_id::uuid END`;
