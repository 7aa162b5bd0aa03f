import { MigrationInterface, QueryRunner } from 'typeorm';
import { formatMoneySql } from '../src/common/money';

/*
 * The triggers send no NOTIFY: PostgreSQL queues notifications under one lock taken at commit,
 * which serialized every posting's commit (bench: postings with events 0.60× of without, 0.68–0.75×
 * once removed). The relay polls every EVENTS_RELAY_INTERVAL_MS instead.
 */

/** An instant as `Date.prototype.toISOString()` writes it (UTC, milliseconds). */
const isoSql = (expr: string) => `to_char(${expr} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/** A rate as `formatRate` writes it: 12 places at most, trailing zeros dropped, at least one decimal. */
const rateSql = (expr: string) =>
  `(CASE WHEN scale(trim_scale(round(${expr}, 12))) = 0 THEN trim_scale(round(${expr}, 12))::text || '.0' ELSE trim_scale(round(${expr}, 12))::text END)`;

/**
 * Events (SPEC §14): a transactional outbox written by the database itself, and the feed.
 *
 * - `event_outbox`: written by statement-level AFTER INSERT triggers (transition tables: one
 *   INSERT per statement, never a trigger per row) on the three tables every change lands in:
 *   `audit_events` (every audited change: the one write path), `ledger_entries` (every entry
 *   of THE posting: `balance.changed`, and `balance.low` on a downward crossing of the holder's
 *   `low_balance_threshold`) and `call_charges` (`call.rated`, the level-0 row of each call).
 *   In the change's transaction: a rollback leaves no event, a commit always has its events.
 *   Each row carries the writing transaction's id (`txid`) and its order within it (`n`).
 * - `events`: the feed. The relay (src/events/relay.ts) moves outbox rows whose transaction
 *   ended before every transaction still running (`txid < pg_snapshot_xmin(...)`) and numbers
 *   them in (txid, n) order after the last sequence: gap-free, and no sequence ever appears
 *   below one a reader has already seen.
 * - `low_balance_threshold` on customers and accounts (null: no alert).
 */
export class Events1764400000000 implements MigrationInterface {
  name = 'Events1764400000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE customers ADD COLUMN low_balance_threshold numeric(38, 8) CHECK (low_balance_threshold >= 0)`);
    await q.query(`ALTER TABLE accounts ADD COLUMN low_balance_threshold numeric(38, 8) CHECK (low_balance_threshold >= 0)`);

    await q.query(`
      CREATE TABLE event_outbox (
        id uuid NOT NULL DEFAULT gen_random_uuid(),
        txid xid8 NOT NULL DEFAULT pg_current_xact_id(),
        n bigint GENERATED ALWAYS AS IDENTITY,
        type varchar(64) NOT NULL,
        occurred_at timestamptz NOT NULL DEFAULT clock_timestamp(),
        subject_type varchar(32) NOT NULL,
        subject_id text,
        subject_path text COLLATE "C" NOT NULL,
        actor_id uuid,
        data jsonb NOT NULL
      )`);
    await q.query(`CREATE INDEX event_outbox_order ON event_outbox (txid, n)`);

    await q.query(`
      CREATE TABLE events (
        sequence bigint PRIMARY KEY,
        id uuid NOT NULL UNIQUE,
        type varchar(64) NOT NULL,
        occurred_at timestamptz NOT NULL,
        subject_type varchar(32) NOT NULL,
        subject_id text,
        subject_path text COLLATE "C" NOT NULL,
        actor_id uuid,
        data jsonb NOT NULL
      )`);
    // A subtree's feed: a range on the path prefix; the root's (everything) walks the primary key.
    await q.query(`CREATE INDEX events_subject ON events (subject_path, sequence)`);

    // The audit action → the event type: `x.create` → `x.created` (update, delete, replace,
    // revoke alike); a rate deck (replace or merge) → `rates.replaced`; a customer's change of
    // itself (`me.update`) → `customer.updated`; an exchange rate set → `exchange-rate.updated`;
    // a login → `session.created`. Posting audit rows (`balance.*`), posted calls (`usage.*`: one
    // `call.rated` per call comes from the charges) and failed logins are not events (the ledger
    // trigger covers postings).
    await q.query(`
      CREATE FUNCTION event_type_of_audit(action text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
        SELECT CASE
          WHEN action LIKE 'rate-deck.%' THEN 'rates.replaced'
          WHEN action = 'me.update' THEN 'customer.updated'
          WHEN action = 'exchange-rate.set' THEN 'exchange-rate.updated'
          WHEN action = 'session.login' THEN 'session.created'
          ELSE regexp_replace(action, '\\.(create|update|delete|replace|revoke)$', '.\\1d')
        END
      $$`);

    await q.query(`
      CREATE FUNCTION events_from_audit() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE written bigint;
      BEGIN
        INSERT INTO event_outbox (type, occurred_at, subject_type, subject_id, subject_path, actor_id, data)
        SELECT event_type_of_audit(a.action), a.at, s.type, a.target_id, a.subject_path, a.actor_id,
               jsonb_build_object('target', jsonb_build_object('type', s.type, 'id', a.target_id), 'changes', a.changes)
          FROM new_rows a
          CROSS JOIN LATERAL (SELECT CASE WHEN a.action LIKE 'rate-deck.%' THEN 'tariff' ELSE a.target_type END AS type) s
         WHERE a.action NOT LIKE 'balance.%' AND a.action NOT LIKE 'usage.%' AND a.action <> 'session.login-failed'
         ORDER BY a.seq;
        GET DIAGNOSTICS written = ROW_COUNT;
        -- no NOTIFY: its commit-time lock would serialize every posting's commit; the relay polls.
        RETURN NULL;
      END $$`);
    await q.query(`
      CREATE TRIGGER audit_events_outbox AFTER INSERT ON audit_events
      REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION events_from_audit()`);

    // Entries are inserted under their holder's row lock, each with its balance after: the
    // balance before is balance_after - converted_amount (signed), so each entry (several of
    // one statement on one holder included) is checked on its own, and concurrent postings
    // cannot both see the crossing or both miss it.
    const money = (expr: string) => formatMoneySql(expr);
    await q.query(`
      CREATE FUNCTION events_from_ledger() RETURNS trigger LANGUAGE plpgsql AS $$
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
                                            'balanceAfter', ${money('e.balance_after')}, 'notes', e.notes, 'createdAt', ${isoSql('e.created_at')}))),
            (2, CASE WHEN e.balance_after < h.threshold AND e.balance_after - e.converted_amount >= h.threshold THEN 'balance.low' END,
                jsonb_build_object('holder', jsonb_build_object('type', h.type, 'id', h.id), 'balance', ${money('e.balance_after')},
                                   'lowBalanceThreshold', ${money('h.threshold')}, 'entryId', e.id))
          ) AS t(ord, type, data)
         WHERE t.type IS NOT NULL
         ORDER BY e.seq, t.ord;
        GET DIAGNOSTICS written = ROW_COUNT;
        -- no NOTIFY: its commit-time lock would serialize every posting's commit; the relay polls.
        RETURN NULL;
      END $$`);
    await q.query(`
      CREATE TRIGGER ledger_entries_outbox AFTER INSERT ON ledger_entries
      REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION events_from_ledger()`);

    // One event per call (its level-0 charge), without charges: they differ per viewer.
    await q.query(`
      CREATE FUNCTION events_from_call_charges() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE written bigint;
      BEGIN
        INSERT INTO event_outbox (type, subject_type, subject_id, subject_path, actor_id, data)
        SELECT 'call.rated', 'call', k.call_uuid::text, k.customer_path, c.poster_id,
               jsonb_build_object('id', k.call_uuid, 'callId', c.call_id, 'accountId', k.account_id, 'customerId', k.customer_id,
                                  'number', k.number, 'connectTime', ${isoSql('k.connect_time')}, 'duration', k.duration)
          FROM new_rows k JOIN calls c ON c.id = k.call_uuid
         WHERE k.level = 0
         ORDER BY c.seq;
        GET DIAGNOSTICS written = ROW_COUNT;
        -- no NOTIFY: its commit-time lock would serialize every posting's commit; the relay polls.
        RETURN NULL;
      END $$`);
    await q.query(`
      CREATE TRIGGER call_charges_outbox AFTER INSERT ON call_charges
      REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION events_from_call_charges()`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TRIGGER call_charges_outbox ON call_charges`);
    await q.query(`DROP TRIGGER ledger_entries_outbox ON ledger_entries`);
    await q.query(`DROP TRIGGER audit_events_outbox ON audit_events`);
    await q.query(`DROP FUNCTION events_from_call_charges()`);
    await q.query(`DROP FUNCTION events_from_ledger()`);
    await q.query(`DROP FUNCTION events_from_audit()`);
    await q.query(`DROP FUNCTION event_type_of_audit(text)`);
    await q.query(`DROP TABLE events`);
    await q.query(`DROP TABLE event_outbox`);
    await q.query(`ALTER TABLE accounts DROP COLUMN low_balance_threshold`);
    await q.query(`ALTER TABLE customers DROP COLUMN low_balance_threshold`);
  }
}
