import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Leave room in each page of the balance holders so that a balance update (which touches no
 * indexed column) can be a HOT update: the new row version stays on its page and no index
 * is written. Matters most for a hot customer taking many postings.
 */
export class HotUpdates1764100700000 implements MigrationInterface {
  name = 'HotUpdates1764100700000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE customers SET (fillfactor = 80)`);
    await q.query(`ALTER TABLE accounts SET (fillfactor = 80)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE customers RESET (fillfactor)`);
    await q.query(`ALTER TABLE accounts RESET (fillfactor)`);
  }
}
