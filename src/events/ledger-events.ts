import { formatMoneySql } from '../common/money';

/** An instant as `Date.prototype.toISOString()` writes it (UTC, milliseconds). */
export const isoSql = (expr: string) => `to_char(${expr} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/** A rate as `formatRate` writes it: 12 places at most, trailing zeros dropped, at least one decimal. */
export const rateSql = (expr: string) =>
  `(CASE WHEN scale(trim_scale(round(${expr}, 12))) = 0 THEN trim_scale(round(${expr}, 12))::text || '.0' ELSE trim_scale(round(${expr}, 12))::text END)`;

/**
 * The events of ledger entries (SPEC §14), as the relay writes them into `events`: for every
 * entry `balance.changed`, and `balance.low` for an entry whose posting recorded a downward
 * crossing of its holder's threshold (`ledger_entries.low_balance_threshold`, set only then).
 *
 * `entries` is a relation of ledger rows (alias `e`) with the holder's customer path (`path`);
 * the result's columns: the entry's `seq`, `ord` (1: changed, 2: low) and the events' columns.
 */
export function ledgerEventsSql(entries: string): string {
  const money = (expr: string) => formatMoneySql(expr);
  const holder = `jsonb_build_object('type', e.holder_type, 'id', e.holder_id)`;
  return `
    SELECT e.txid, e.seq, 1 AS ord, 'balance.changed' AS type, e.created_at AS occurred_at, e.holder_type AS subject_type,
           e.holder_id::text AS subject_id, e.path AS subject_path, e.actor_id,
           jsonb_build_object(
             'holder', ${holder},
             'entry', jsonb_build_object('id', e.id, 'action', e.action, 'amount', ${money('e.amount')}, 'currency', e.currency,
                                         'exchangeRate', ${rateSql('e.exchange_rate')}, 'convertedAmount', ${money('e.converted_amount')},
                                         'balanceAfter', ${money('e.balance_after')}, 'notes', e.notes, 'createdAt', ${isoSql('e.created_at')},
                                         'externalReference', e.external_reference, 'metadata', e.metadata)) AS data
      FROM ${entries}
    UNION ALL
    SELECT e.txid, e.seq, 2, 'balance.low', e.created_at, e.holder_type, e.holder_id::text, e.path, e.actor_id,
           jsonb_build_object('holder', ${holder}, 'balance', ${money('e.balance_after')},
                              'lowBalanceThreshold', ${money('e.low_balance_threshold')}, 'entryId', e.id)
      FROM ${entries}
     WHERE e.low_balance_threshold IS NOT NULL`;
}

/**
 * Whether an entry crosses its holder's threshold downwards, and then the threshold (else
 * NULL): the value of `ledger_entries.low_balance_threshold` for an entry with balance after
 * `after`, signed change `delta` (balance before = after − delta) and the holder's threshold
 * `threshold` (NULL: no alert). Decided by the statement that writes the entry, under the
 * holder's lock, so that concurrent postings cannot both see the crossing or both miss it.
 */
export function lowCrossingSql(after: string, delta: string, threshold: string): string {
  return `CASE WHEN (${after}) < ${threshold} AND (${after}) - (${delta}) >= ${threshold} THEN ${threshold} END`;
}
