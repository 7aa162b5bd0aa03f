import { MigrationInterface, QueryRunner } from 'typeorm';
import { StartupError } from '../src/common/startup-error';

/** Where pg_trgm lives (its operator classes are named with that schema), or undefined when absent. */
async function trigramSchema(q: QueryRunner): Promise<string | undefined> {
  const rows: Array<{ schema: string }> = await q.query(
    `SELECT n.nspname AS schema FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm'`,
  );
  return rows[0]?.schema;
}

/**
 * `?q=` on names (customers) and usernames (accounts) is a case-insensitive "contains"
 * (`ILIKE '%text%'`), which no B-tree serves: without an index it reads the whole subtree.
 * pg_trgm's GIN operator class answers ILIKE from the index (trigrams of the pattern; the
 * scope condition then filters the few candidates). The embedded PostgreSQL ships pg_trgm;
 * on another server it is a trusted extension (PostgreSQL ≥ 13), so the database owner or a
 * role with CREATE on the database may install it. When it is missing and this role may not
 * create it, the migration stops start-up with one sentence naming the fix, rather than
 * leaving searches to scan: searching without the index is correct but does not scale.
 */
export class NameSearch1764200100000 implements MigrationInterface {
  name = 'NameSearch1764200100000';

  async up(q: QueryRunner): Promise<void> {
    let schema = await trigramSchema(q);
    if (!schema) {
      // A savepoint keeps the migration's transaction usable when the CREATE is refused.
      await q.query('SAVEPOINT pg_trgm');
      try {
        await q.query('CREATE EXTENSION IF NOT EXISTS pg_trgm');
        await q.query('RELEASE SAVEPOINT pg_trgm');
      } catch (error) {
        await q.query('ROLLBACK TO SAVEPOINT pg_trgm');
        const database: Array<{ name: string }> = await q.query('SELECT current_database() AS name');
        const code = (error as { code?: string; driverError?: { code?: string } }).driverError?.code ?? (error as { code?: string }).code;
        const missing = code === '58P01' || code === '0A000' || /control file|not available/i.test(String(error));
        throw new StartupError(
          missing
            ? `the PostgreSQL server lacks the pg_trgm extension (PostgreSQL's contrib modules, e.g. Debian's postgresql-contrib), which Canopy needs to search names: install it on the server, then start again.`
            : `Canopy needs the pg_trgm extension in database "${database[0].name}" to search names, and this role may not create it (${String((error as Error).message)}): ` +
              `have a superuser or the database owner run CREATE EXTENSION pg_trgm; in that database (or grant this role CREATE on it), then start again.`,
        );
      }
      schema = (await trigramSchema(q))!;
    }
    const ops = `"${schema.replace(/"/g, '""')}".gin_trgm_ops`;
    // fastupdate off: a new name goes into the index at once. With GIN's default pending list,
    // names added since the last (auto)vacuum sit in an unindexed list that every search reads
    // in full and that the planner counts against the index; rows are created one at a time
    // here, so the cheaper bulk insert it buys is not worth that.
    await q.query(`CREATE INDEX customers_name_trgm ON customers USING gin (name ${ops}) WITH (fastupdate = off) WHERE deleted_at IS NULL`);
    await q.query(`CREATE INDEX accounts_username_trgm ON accounts USING gin (username ${ops}) WITH (fastupdate = off) WHERE deleted_at IS NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP INDEX IF EXISTS accounts_username_trgm');
    await q.query('DROP INDEX IF EXISTS customers_name_trgm');
    // The extension stays: another database object may use it, and creating it may need rights.
  }
}
