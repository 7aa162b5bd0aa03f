import { MigrationInterface, QueryRunner } from 'typeorm';
import { formatMoneySql } from '../src/common/money';
import { eventsFromLedger, isoSql, rateSql } from './1764500200000-LedgerReferences';

/**
 * The ledger's outbox trigger function, the same events in the same order, written as two
 * plain projections (`balance.changed` for every entry, `balance.low` for the entries that
 * cross their holder's threshold) instead of a `CROSS JOIN LATERAL (VALUES …)` of both. A
 * lateral VALUES list is evaluated by a Values Scan that builds its expressions anew for every
 * row, and it built the `balance.low` object for every entry before filtering it out: 59 ms of
 * the trigger's 1,000-entry SELECT, against 27 ms now (measured server-side on 1,000 entries,
 * bench/RESULTS.md "What each change bought"). The trigger runs in every posting's statement,
 * so this is time under the holders' row locks.
 */
export function eventsFromLedgerProjected(): string {
  const money = (expr: string) => formatMoneySql(expr);
  return `
      CREATE OR REPLACE FUNCTION events_from_ledger() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE written bigint;
      BEGIN
        WITH b AS MATERIALIZED (
          SELECT e.seq, e.id, e.action, e.amount, e.currency, e.exchange_rate, e.converted_amount, e.balance_after, e.notes,
                 e.created_at, e.actor_id, e.external_reference, e.metadata, c.path,
                 CASE WHEN e.account_id IS NULL THEN 'customer' ELSE 'account' END AS holder_type,
                 COALESCE(e.customer_id, e.account_id) AS holder_id,
                 CASE WHEN e.account_id IS NULL THEN c.low_balance_threshold ELSE ac.low_balance_threshold END AS threshold
            FROM new_rows e
            LEFT JOIN accounts ac ON ac.id = e.account_id
            JOIN customers c ON c.id = COALESCE(e.customer_id, ac.customer_id))
        INSERT INTO event_outbox (type, occurred_at, subject_type, subject_id, subject_path, actor_id, data)
        SELECT t.type, t.created_at, t.holder_type, t.holder_id::text, t.path, t.actor_id, t.data
          FROM (
            SELECT b.seq, 1 AS ord, 'balance.changed' AS type, b.created_at, b.holder_type, b.holder_id, b.path, b.actor_id,
                   jsonb_build_object(
                     'holder', jsonb_build_object('type', b.holder_type, 'id', b.holder_id),
                     'entry', jsonb_build_object('id', b.id, 'action', b.action, 'amount', ${money('b.amount')}, 'currency', b.currency,
                                                 'exchangeRate', ${rateSql('b.exchange_rate')}, 'convertedAmount', ${money('b.converted_amount')},
                                                 'balanceAfter', ${money('b.balance_after')}, 'notes', b.notes, 'createdAt', ${isoSql('b.created_at')},
                                                 'externalReference', b.external_reference, 'metadata', b.metadata)) AS data
              FROM b
            UNION ALL
            SELECT b.seq, 2, 'balance.low', b.created_at, b.holder_type, b.holder_id, b.path, b.actor_id,
                   jsonb_build_object('holder', jsonb_build_object('type', b.holder_type, 'id', b.holder_id), 'balance', ${money('b.balance_after')},
                                      'lowBalanceThreshold', ${money('b.threshold')}, 'entryId', b.id)
              FROM b
             WHERE b.balance_after < b.threshold AND b.balance_after - b.converted_amount >= b.threshold
          ) t
         ORDER BY t.seq, t.ord;
        GET DIAGNOSTICS written = ROW_COUNT;
        -- no NOTIFY: its commit-time lock would serialize every posting's commit; the relay polls.
        RETURN NULL;
      END $$`;
}

export class LedgerOutboxProjection1764700000000 implements MigrationInterface {
  name = 'LedgerOutboxProjection1764700000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(eventsFromLedgerProjected());
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(eventsFromLedger(true));
  }
}
