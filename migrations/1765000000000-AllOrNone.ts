import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `canopy_all_or_none(passed)`: true, or the error `CB001` (ALL_OR_NONE_FAILED in
 * src/balances/ledger.repository.ts) when `passed` is false. A batch written by THE posting
 * statement alone (no transaction, no lock before it) asks it whether every holder passed its
 * check; the error then undoes the whole statement, so that nothing of the batch is written and
 * the batch takes its transaction, which gives the exact refusal.
 */
export class AllOrNone1765000000000 implements MigrationInterface {
  name = 'AllOrNone1765000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE FUNCTION canopy_all_or_none(passed boolean) RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
      BEGIN
        IF passed IS NOT TRUE THEN
          RAISE EXCEPTION 'an operation of the batch did not pass its holder''s check: nothing of it is written' USING ERRCODE = 'CB001';
        END IF;
        RETURN true;
      END $$`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP FUNCTION canopy_all_or_none(boolean)`);
  }
}
