import { MigrationInterface, QueryRunner } from 'typeorm';
import { formatMoneySql } from '../src/common/money';
import { isoSql, rateSql } from '../src/events/ledger-events';

/** As in migration 1764400000000-Events: an instant as `toISOString()` writes it, a rate as `formatRate` does. */
export { isoSql, rateSql };

/**
 * The ledger's outbox trigger function of migration 1764400000000-Events, its
 * `balance.changed` entry carrying `externalReference` and `metadata` (as the API shows the
 * entry) when `withReferences`; without, exactly as that migration wrote it (for `down`).
 */
export function eventsFromLedger(withReferences: boolean): string {
  const money = (expr: string) => formatMoneySql(expr);
  const references = withReferences ? `, 'externalReference', e.external_reference, 'metadata', e.metadata` : '';
  return `
      CREATE OR REPLACE FUNCTION events_from_ledger() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE written bigint;
      BEGIN
        INSERT INTO event_outbox (type, occurred_at, subject_type, subject_id, subject_path, actor_id, data)
        SELECT t.type, e.created_at, h.type, h.id::text, c.path, e.actor_id, t.data
          FROM new_rows e
          LEFT JOIN accounts ac ON ac.id = e.account_id
          JOIN customers c ON c.id = COALESCE(e.customer_id, ac.customer_id)
          CROSS JOIN LATERAL (SELECT CASE WHEN e.account_id IS NULL THEN 'customer' ELSE 'account' END AS type,
                                     COALESCE(e.customer_id, e.account_id) AS id,
                                     CASE WHEN e.account_id IS NULL THEN c.low_balance_threshold ELSE ac.low_balance_threshold END AS threshold) h
          CROSS JOIN LATERAL (VALUES
            (1, 'balance.changed', jsonb_build_object(
                'holder', jsonb_build_object('type', h.type, 'id', h.id),
                'entry', jsonb_build_object('id', e.id, 'action', e.action, 'amount', ${money('e.amount')}, 'currency', e.currency,
                                            'exchangeRate', ${rateSql('e.exchange_rate')}, 'convertedAmount', ${money('e.converted_amount')},
                                            'balanceAfter', ${money('e.balance_after')}, 'notes', e.notes, 'createdAt', ${isoSql('e.created_at')}${references}))),
            (2, CASE WHEN e.balance_after < h.threshold AND e.balance_after - e.converted_amount >= h.threshold THEN 'balance.low' END,
                jsonb_build_object('holder', jsonb_build_object('type', h.type, 'id', h.id), 'balance', ${money('e.balance_after')},
                                   'lowBalanceThreshold', ${money('h.threshold')}, 'entryId', e.id))
          ) AS t(ord, type, data)
         WHERE t.type IS NOT NULL
         ORDER BY e.seq, t.ord;
        GET DIAGNOSTICS written = ROW_COUNT;
        -- no NOTIFY: its commit-time lock would serialize every posting's commit; the relay polls.
        RETURN NULL;
      END $$`;
}

/**
 * External references and metadata on ledger entries (SPEC §6, §15).
 *
 * `external_reference` is a permanent de-duplication key per holder: one unique partial index
 * per kind of holder, on (holder, reference) where a reference is given, so that two entries
 * on one holder can never share one, whatever the concurrency, and `?externalReference=` on a
 * holder's ledger is one index lookup. Entries without a reference (usage charges, opening
 * balances, most operations) are not in these indexes at all.
 *
 * `metadata` is the integrator's own key/value data (`'{}'` when none). Both columns are added
 * without rewriting the ledger (a NULL column, and a constant default kept in the catalogue).
 * `balance.changed` events carry both in their entry, as the API shows it.
 */
export class LedgerReferences1764500200000 implements MigrationInterface {
  name = 'LedgerReferences1764500200000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE ledger_entries
        ADD COLUMN external_reference varchar(128) CHECK (external_reference <> ''),
        ADD COLUMN metadata jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(metadata) = 'object')`);
    await q.query(`
      CREATE UNIQUE INDEX ledger_entries_customer_reference ON ledger_entries (customer_id, external_reference)
       WHERE external_reference IS NOT NULL AND customer_id IS NOT NULL`);
    await q.query(`
      CREATE UNIQUE INDEX ledger_entries_account_reference ON ledger_entries (account_id, external_reference)
       WHERE external_reference IS NOT NULL AND account_id IS NOT NULL`);
    await q.query(eventsFromLedger(true));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(eventsFromLedger(false));
    await q.query(`DROP INDEX ledger_entries_account_reference`);
    await q.query(`DROP INDEX ledger_entries_customer_reference`);
    await q.query(`ALTER TABLE ledger_entries DROP COLUMN metadata, DROP COLUMN external_reference`);
  }
}
