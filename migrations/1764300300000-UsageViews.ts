import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `GET /v1/usage` pages over groups in key order. Grouped by account (or customer), a page
 * of 50 groups reads only those groups' days from these indexes, in order, instead of
 * summing the whole range of the rollup and sorting it (a reseller with 10,000 accounts:
 * ~300,000 rollup rows a month). By day the primary key already delivers the rows in order;
 * by prefix the range is summed. No summed column is indexed, so the posting's updates of a
 * rollup row can stay HOT.
 *
 * `GET /v1/calls` for a customer's own accounts (`scope=own`) reads the calls of that
 * customer's accounts newest first from `calls_customer`; without it the list would walk
 * every call the customer sold (its whole subtree's) to find those of its own accounts.
 */
export class UsageViews1764300300000 implements MigrationInterface {
  name = 'UsageViews1764300300000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX usage_daily_account ON usage_daily (seller_id, time_zone, account_id, day)`);
    await q.query(`CREATE INDEX usage_daily_customer ON usage_daily (seller_id, time_zone, customer_id, day)`);
    await q.query(`CREATE INDEX calls_customer ON calls (customer_id, connect_time DESC, id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX calls_customer`);
    await q.query(`DROP INDEX usage_daily_customer`);
    await q.query(`DROP INDEX usage_daily_account`);
  }
}
