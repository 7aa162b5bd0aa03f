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
 * Their `data` is not stored: such an event names its entry (`ledger_seq`) and its body is
 * rendered from the entry when it is read (`ledgerEventDataSql`; migration
 * 1765200100000-LedgerEventsRenderedOnRead).
 *
 * `entries` is a relation of ledger rows (alias `e`) with the holder's type and id
 * (`holder_type`, `holder_id`) and its customer's path (`path`); the result's columns: the
 * entry's `txid` and `seq`, `ord` (1: changed, 2: low) and the events' columns.
 */
export function ledgerEventsSql(entries: string): string {
  const columns = `e.created_at AS occurred_at, e.holder_type AS subject_type, e.holder_id::text AS subject_id, e.path AS subject_path, e.actor_id`;
  return `
    SELECT e.txid, e.seq, 1 AS ord, 'balance.changed' AS type, ${columns} FROM ${entries}
    UNION ALL
    SELECT e.txid, e.seq, 2, 'balance.low', ${columns} FROM ${entries} WHERE e.low_balance_threshold IS NOT NULL`;
}

/**
 * The id of an event of a ledger entry: a UUID of version 7 (RFC 9562) made of the event's
 * time (`occurredAt`, milliseconds, as the feed shows it) and, in the bits a version 7 leaves
 * to the maker (a counter is allowed there), its sequence, so that ids are unique as sequences are and grow with them:
 * added at the right edge of `events_id_key` instead of at a random leaf, and no strong random
 * draw per event (`gen_random_uuid`). Both parts are in the event itself anyway.
 */
export function ledgerEventIdSql(occurredAt: string, sequence: string): string {
  const counter = `lpad(to_hex(${sequence}), 18, '0')`;
  return `(lpad(to_hex(floor(extract(epoch FROM ${occurredAt}) * 1000)::bigint), 12, '0') || '7' || substr(${counter}, 1, 3) || '8' || substr(${counter}, 4))::uuid`;
}

/**
 * The `data` of an event as the feed and webhook deliveries show it: stored (`event.data`), or,
 * for an event of a ledger entry, rendered from the entry `entry` (joined on `event.ledger_seq`,
 * `ledgerEventEntryJoin`): `balance.changed` gives the holder and the entry as the ledger list
 * shows it, `balance.low` the holder, the balance after the entry, the threshold it crossed
 * and the entry's id.
 */
export function ledgerEventDataSql(event: string, entry: string): string {
  const money = (expr: string) => formatMoneySql(expr);
  const l = entry;
  const holder = `jsonb_build_object('type', ${event}.subject_type, 'id', ${event}.subject_id)`;
  return `COALESCE(${event}.data, CASE ${event}.type
    WHEN 'balance.low' THEN jsonb_build_object('holder', ${holder}, 'balance', ${money(`${l}.balance_after`)},
                                               'lowBalanceThreshold', ${money(`${l}.low_balance_threshold`)}, 'entryId', ${l}.id)
    ELSE jsonb_build_object(
      'holder', ${holder},
      'entry', jsonb_build_object('id', ${l}.id, 'action', ${l}.action, 'amount', ${money(`${l}.amount`)}, 'currency', ${l}.currency,
                                  'exchangeRate', ${rateSql(`${l}.exchange_rate`)}, 'convertedAmount', ${money(`${l}.converted_amount`)},
                                  'balanceAfter', ${money(`${l}.balance_after`)}, 'notes', ${l}.notes, 'createdAt', ${isoSql(`${l}.created_at`)},
                                  'externalReference', ${l}.external_reference, 'metadata', ${l}.metadata)) END)`;
}

/** The join giving `ledgerEventDataSql` the entry `entry` of the event `event` (none for an event with stored data). */
export const ledgerEventEntryJoin = (event: string, entry: string) => `LEFT JOIN ledger_entries ${entry} ON ${entry}.seq = ${event}.ledger_seq`;

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
