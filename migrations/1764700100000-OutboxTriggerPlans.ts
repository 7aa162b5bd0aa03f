import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The outbox triggers that join their transition table to a growing table (the ledger's to
 * `customers` and `accounts`, the charges' to `calls`) plan with nested loops over primary
 * keys only. PL/pgSQL plans a trigger's statement once per connection, for the size of the
 * transition table of its first run, and keeps that plan: a connection whose first ledger
 * insert was a 1,000-entry batch planned a hash join that reads all of `customers`, and then
 * paid that scan on every later posting (67 ms instead of 0.27 ms for a 4-entry posting with
 * 100,000 customers, measured). A nested loop over the primary key is right for one entry and
 * for 5,000; turning hash and merge joins off for these functions (a setting of the function,
 * in force while it plans and runs) makes it the only plan. test/outbox-trigger-plans.
 */
export class OutboxTriggerPlans1764700100000 implements MigrationInterface {
  name = 'OutboxTriggerPlans1764700100000';

  async up(q: QueryRunner): Promise<void> {
    for (const fn of ['events_from_ledger', 'events_from_call_charges']) {
      await q.query(`ALTER FUNCTION ${fn}() SET enable_hashjoin = off`);
      await q.query(`ALTER FUNCTION ${fn}() SET enable_mergejoin = off`);
    }
  }

  async down(q: QueryRunner): Promise<void> {
    for (const fn of ['events_from_ledger', 'events_from_call_charges']) await q.query(`ALTER FUNCTION ${fn}() RESET ALL`);
  }
}
