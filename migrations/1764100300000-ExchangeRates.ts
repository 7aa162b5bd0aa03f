import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Each customer's exchange-rate table (the rate in force) and its full history: a set or a
 * delete appends a row to the history, in the same transaction as the change.
 */
export class ExchangeRates1764100300000 implements MigrationInterface {
  name = 'ExchangeRates1764100300000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE exchange_rates (
        customer_id uuid NOT NULL REFERENCES customers(id),
        currency char(3) NOT NULL,
        rate numeric(38, 12) NOT NULL CHECK (rate > 0),
        version integer NOT NULL DEFAULT 1,
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (customer_id, currency)
      )`);
    await q.query(`
      CREATE TABLE exchange_rate_history (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        customer_id uuid NOT NULL REFERENCES customers(id),
        currency char(3) NOT NULL,
        rate numeric(38, 12) CHECK (rate > 0),
        actor_id uuid REFERENCES customers(id),
        at timestamptz NOT NULL DEFAULT clock_timestamp()
      )`);
    await q.query(`CREATE INDEX exchange_rate_history_lookup ON exchange_rate_history (customer_id, currency, id DESC)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE exchange_rate_history`);
    await q.query(`DROP TABLE exchange_rates`);
  }
}
