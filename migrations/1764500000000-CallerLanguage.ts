import { MigrationInterface, QueryRunner } from 'typeorm';

const TRIGGER = (columns: string[]) => `
  CREATE TRIGGER customers_caller_changed
    AFTER UPDATE OF ${columns.join(', ')} ON customers
    FOR EACH ROW
    WHEN (${columns.map((c) => `OLD.${c} IS DISTINCT FROM NEW.${c}`).join(' OR ')})
    EXECUTE FUNCTION customers_caller_changed()`;

const BEFORE = ['status', 'permissions', 'auth_epoch', 'deleted_at', 'path', 'depth', 'parent_id', 'base_currency'];

/**
 * A Caller now carries its language (problem details are written in it, SPEC §11), so a
 * change of a customer's `language` must evict its cached caller like the other columns a
 * Caller is made of (see 1764200000000-CallerChanges).
 */
export class CallerLanguage1764500000000 implements MigrationInterface {
  name = 'CallerLanguage1764500000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`DROP TRIGGER customers_caller_changed ON customers`);
    await q.query(TRIGGER([...BEFORE, 'language']));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TRIGGER customers_caller_changed ON customers`);
    await q.query(TRIGGER(BEFORE));
  }
}
