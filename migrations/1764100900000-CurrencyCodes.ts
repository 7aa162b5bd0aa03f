import { MigrationInterface, QueryRunner } from 'typeorm';

/** Every column that holds an ISO 4217 code (indexes that cover one are rebuilt by the ALTER). */
const COLUMNS: Array<[table: string, column: string]> = [
  ['customers', 'base_currency'],
  ['tariffs', 'currency'],
  ['exchange_rates', 'currency'], // part of the primary key (customer_id, currency)
  ['exchange_rate_history', 'currency'], // in exchange_rate_history_lookup
  ['ledger_entries', 'currency'],
  ['system_settings', 'default_base_currency'],
];

/**
 * Currency codes become the domain `currency_code` (varchar(3), three capital letters) instead
 * of char(3): a char(n) value compares, concatenates and casts with blank-padding rules, which
 * made code trim it everywhere; a varchar holds exactly the code. The CHECK is named
 * (`currency_code_iso`) so that a violation says what it is. No view or function depends on
 * these columns; the ALTERs rewrite each table once (and rebuild its indexes), which on a large
 * ledger takes a while under an exclusive lock: run it in a quiet moment.
 */
export class CurrencyCodes1764100900000 implements MigrationInterface {
  name = 'CurrencyCodes1764100900000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE DOMAIN currency_code AS varchar(3) CONSTRAINT currency_code_iso CHECK (VALUE ~ '^[A-Z]{3}$')`);
    for (const [table, column] of COLUMNS) {
      // char(3) → varchar drops the (absent) padding; rtrim says so explicitly.
      await q.query(`ALTER TABLE ${table} ALTER COLUMN ${column} TYPE currency_code USING rtrim(${column})::currency_code`);
    }
  }

  async down(q: QueryRunner): Promise<void> {
    for (const [table, column] of COLUMNS) {
      await q.query(`ALTER TABLE ${table} ALTER COLUMN ${column} TYPE char(3) USING ${column}::char(3)`);
    }
    await q.query(`DROP DOMAIN currency_code`);
  }
}
