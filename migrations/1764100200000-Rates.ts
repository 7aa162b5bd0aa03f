import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Rates of a tariff. One rate per (prefix, effective_from); that unique index is also the
 * index of the longest-prefix lookup (tariff_id, prefix = ANY(...), effective_from <= now()).
 * `prefix` is digits only in the "C" collation, so `prefix LIKE '44%'` is an index range scan.
 * `effective_from` is kept at millisecond precision so that it survives a round trip through
 * JSON and CSV (JavaScript's toISOString) unchanged.
 */
export class Rates1764100200000 implements MigrationInterface {
  name = 'Rates1764100200000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE rates (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        tariff_id uuid NOT NULL REFERENCES tariffs(id) ON DELETE CASCADE,
        prefix varchar(32) COLLATE "C" NOT NULL CHECK (prefix ~ '^[0-9]{1,32}$'),
        price numeric(38, 8) NOT NULL CHECK (price >= 0),
        first_interval integer NOT NULL DEFAULT 1 CHECK (first_interval >= 1),
        next_interval integer NOT NULL DEFAULT 1 CHECK (next_interval >= 1),
        connect_fee numeric(38, 8) NOT NULL DEFAULT 0 CHECK (connect_fee >= 0),
        effective_from timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now())
          CHECK (effective_from = date_trunc('milliseconds', effective_from)),
        version integer NOT NULL DEFAULT 1,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE UNIQUE INDEX rates_tariff_prefix_from ON rates (tariff_id, prefix, effective_from)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE rates`);
  }
}
