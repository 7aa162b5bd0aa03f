import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The balance rows are vacuumed after a few thousand dead versions instead of a fifth of the
 * table. Every posting updates its holder's balance row, and that update cannot be HOT (the
 * balance is in the `(parent, balance, id)` index, migration 1764600000000-BalanceRows): each
 * one leaves a dead row version and a dead entry in both indexes, which the next posting's
 * lookup of the same holder walks until a vacuum removes them. With PostgreSQL's defaults
 * (20 % of the table) a tree of 100,000 customers collects 20,000 dead versions before a
 * vacuum; postings concentrated on 1,000 of them walked ~20 each, and a posting statement then
 * cost 2.5× what it costs on a vacuumed table (measured: 1.8 → 4.6 ms for a group of six within
 * 30 s; bench/RESULTS.md). How soon autovacuum looks is the server's `autovacuum_naptime`
 * (README, "Production"); the embedded PostgreSQL looks every 5 s.
 */
export class BalanceRowsVacuum1764800000000 implements MigrationInterface {
  name = 'BalanceRowsVacuum1764800000000';

  async up(q: QueryRunner): Promise<void> {
    for (const table of ['customer_balances', 'account_balances']) {
      await q.query(`ALTER TABLE ${table} SET (autovacuum_vacuum_threshold = 1000, autovacuum_vacuum_scale_factor = 0.02)`);
    }
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of ['customer_balances', 'account_balances']) {
      await q.query(`ALTER TABLE ${table} RESET (autovacuum_vacuum_threshold, autovacuum_vacuum_scale_factor)`);
    }
  }
}
