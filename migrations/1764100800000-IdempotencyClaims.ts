import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Idempotency keys of ordinary POSTs are claimed in a short committed transaction, not held
 * in one around the handler: a row with `status IS NULL` and a `claim_token` is a request in
 * progress. `claimed_until` is its lease: a claim whose request died (process killed, answer
 * never recorded) is free again once the lease has passed.
 *
 * Stored responses never hold a secret any more: the API-key secrets recorded by earlier
 * versions for replays are removed here.
 */
export class IdempotencyClaims1764100800000 implements MigrationInterface {
  name = 'IdempotencyClaims1764100800000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE idempotency_keys ADD COLUMN claim_token uuid, ADD COLUMN claimed_until timestamptz`);
    await q.query(`UPDATE idempotency_keys SET response_body = response_body - 'apiKey' WHERE jsonb_typeof(response_body) = 'object' AND response_body ? 'apiKey'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DELETE FROM idempotency_keys WHERE status IS NULL`);
    await q.query(`ALTER TABLE idempotency_keys DROP COLUMN claim_token, DROP COLUMN claimed_until`);
  }
}
