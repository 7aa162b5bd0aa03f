import { MigrationInterface, QueryRunner } from 'typeorm';
import { eventsFromLedgerProjected } from './1764700000000-LedgerOutboxProjection';

/**
 * The ledger's events are read by the relay from the ledger itself instead of being copied
 * into the outbox by a trigger in every posting.
 *
 * The ledger's outbox trigger cost each posting statement ~0.3 ms whatever its size (a
 * PL/pgSQL call, its transition table, its own INSERT … SELECT with a join and a sort) plus an
 * outbox row with its JSON per entry, all under the holders' row locks, and every event was
 * then written twice (the outbox row, then the relay's `events` row) and deleted once
 * (bench/RESULTS.md, tenth and eleventh sessions). Now:
 *
 * - every ledger entry records its transaction's id (`txid`, `pg_current_xact_id()`, as an
 *   outbox row does), indexed with its `seq` (`ledger_entries_relay`, only the entries
 *   written from now on: the older ones had their events through the outbox);
 * - the statement that writes an entry records, under the holder's lock, the threshold it
 *   crossed downwards (`low_balance_threshold`, NULL when none): the `balance.low` event is
 *   decided at the posting, exactly as the trigger decided it;
 * - the relay takes the outbox rows and the ledger entries of ended transactions together, in
 *   (txid, outbox before ledger, n or seq) order, and keeps where it stopped in the ledger
 *   (`event_relay_position`: the last (txid, seq) relayed; src/events/events.repository.ts);
 * - transaction ids are the cluster's: a logical restore (pg_dump into a new cluster) starts them
 *   again below the position kept. The relay then refuses to run (it would pass over every new
 *   entry), and the README's procedure re-bases the position: entries up to
 *   `ledger_seq_floor` (the last before the restore) are done, whatever their txid;
 * - `ledger_entries_unrelayed` says which entries are still to relay (the relay reads it);
 * - `event_backlog` counts what waits (outbox rows and entries not yet relayed): for
 *   operators, the benchmarks and the tests.
 *
 * The position is read by scalar subqueries, and the floor is compared as `seq - floor > 0`
 * rather than `seq > floor`, so that the entries after the position are found on
 * `ledger_entries_relay`: joined to the position, or with `seq > floor` (a floor of 0 for the
 * planner's guess of a third), the count read every entry through the `seq` index (250 ms for
 * 123,000 entries against 0.6 ms; measured on the benchmark's database).
 *
 * Adding the columns rewrites nothing (no default for the rows already there).
 */
export class LedgerEventsByRelay1764900000000 implements MigrationInterface {
  name = 'LedgerEventsByRelay1764900000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE ledger_entries ADD COLUMN txid xid8, ADD COLUMN low_balance_threshold numeric(38, 8)`);
    await q.query(`ALTER TABLE ledger_entries ALTER COLUMN txid SET DEFAULT pg_current_xact_id()`);
    await q.query(`CREATE INDEX ledger_entries_relay ON ledger_entries (txid, seq) WHERE txid IS NOT NULL`);
    await q.query(`
      CREATE TABLE event_relay_position (
        only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
        ledger_txid xid8 NOT NULL,
        ledger_seq bigint NOT NULL,
        ledger_seq_floor bigint NOT NULL DEFAULT 0
      )`);
    await q.query(`INSERT INTO event_relay_position (ledger_txid, ledger_seq) VALUES ('0', 0)`);
    await q.query(`DROP TRIGGER ledger_entries_outbox ON ledger_entries`);
    await q.query(`DROP FUNCTION events_from_ledger()`);
    // The one statement of which entries are not yet relayed: the relay reads it (with
    // `txid < xmin`, in order), and so does the backlog count.
    await q.query(`
      CREATE VIEW ledger_entries_unrelayed AS
        SELECT e.txid, e.seq FROM ledger_entries e
         WHERE e.txid IS NOT NULL
           AND (e.txid, e.seq) > ((SELECT p.ledger_txid FROM event_relay_position p), (SELECT p.ledger_seq FROM event_relay_position p))
           AND e.seq - (SELECT p.ledger_seq_floor FROM event_relay_position p) > 0`);
    await q.query(`
      CREATE VIEW event_backlog AS
        SELECT 'outbox' AS source, o.txid FROM event_outbox o
        UNION ALL
        SELECT 'ledger', u.txid FROM ledger_entries_unrelayed u`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP VIEW event_backlog`);
    await q.query(`DROP VIEW ledger_entries_unrelayed`);
    await q.query(eventsFromLedgerProjected());
    await q.query(`ALTER FUNCTION events_from_ledger() SET enable_hashjoin = off`);
    await q.query(`ALTER FUNCTION events_from_ledger() SET enable_mergejoin = off`);
    await q.query(`
      CREATE TRIGGER ledger_entries_outbox AFTER INSERT ON ledger_entries
      REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION events_from_ledger()`);
    await q.query(`DROP TABLE event_relay_position`);
    await q.query(`DROP INDEX ledger_entries_relay`);
    await q.query(`ALTER TABLE ledger_entries DROP COLUMN low_balance_threshold, DROP COLUMN txid`);
  }
}
