import { MigrationInterface, QueryRunner } from 'typeorm';
import { ledgerEventDataSql } from '../src/events/ledger-events';

/**
 * The events of ledger entries (`balance.changed`, `balance.low`) no longer copy their entry:
 * the relay writes such an event with the entry's `seq` (`ledger_seq`) and no `data`, and the
 * feed and webhook deliveries render its body from the entry when they read it
 * (`ledgerEventDataSql`, src/events/ledger-events.ts), as the relay used to when it copied it.
 * The ledger is immutable, so the body read is the body the copy held. Building that JSON for
 * every entry was about a third of the relay's time on a 1,000-operation batch (issue 12).
 *
 * Events written before keep their `data`; every event has exactly one of the two
 * (`events_data_or_entry`).
 */
export class LedgerEventsRenderedOnRead1765200100000 implements MigrationInterface {
  name = 'LedgerEventsRenderedOnRead1765200100000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE events
        ADD COLUMN ledger_seq bigint,
        ALTER COLUMN data DROP NOT NULL,
        ADD CONSTRAINT events_data_or_entry CHECK ((data IS NULL) = (ledger_seq IS NOT NULL))`);
  }

  async down(q: QueryRunner): Promise<void> {
    // Back to copies: the body of each event of an entry, as it is rendered now.
    await q.query(`ALTER TABLE events DROP CONSTRAINT events_data_or_entry`);
    await q.query(`UPDATE events e SET data = ${ledgerEventDataSql('e', 'l')} FROM ledger_entries l WHERE l.seq = e.ledger_seq`);
    await q.query(`ALTER TABLE events ALTER COLUMN data SET NOT NULL, DROP COLUMN ledger_seq`);
  }
}
