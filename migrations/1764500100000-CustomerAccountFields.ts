import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * SPEC §15 on customers and accounts: the integrator's own `external_id` (unique among a
 * parent's live children, and among a customer's live accounts) and `metadata` (jsonb), the
 * customers' contact and billing profile, and the indexes the list filters and sorts use.
 *
 * Indexes and the posting path: a posting updates `balance` (and `version`, `updated_at`) of
 * customers and accounts as HOT updates (no index names those columns, migration
 * 1764100700000-HotUpdates). Every index below leaves that so: none contains `balance`,
 * `version` or `updated_at`, so postings write none of them. The price is that a list sorted
 * by balance is a top-N sort of the rows its scope index finds (the children of one customer,
 * a subtree, a customer's accounts), not an index walk — see docs/integrators.md, "Lists".
 */
export class CustomerAccountFields1764500100000 implements MigrationInterface {
  name = 'CustomerAccountFields1764500100000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE customers
        ADD COLUMN external_id varchar(128),
        ADD COLUMN metadata jsonb NOT NULL DEFAULT '{}' CONSTRAINT customers_metadata_object CHECK (jsonb_typeof(metadata) = 'object'),
        ADD COLUMN company_name varchar(256),
        ADD COLUMN email varchar(254),
        ADD COLUMN phone varchar(16),
        ADD COLUMN address jsonb CONSTRAINT customers_address_object CHECK (address IS NULL OR jsonb_typeof(address) = 'object'),
        ADD COLUMN tax_id varchar(64)`);
    await q.query(`
      ALTER TABLE accounts
        ADD COLUMN external_id varchar(128),
        ADD COLUMN metadata jsonb NOT NULL DEFAULT '{}' CONSTRAINT accounts_metadata_object CHECK (jsonb_typeof(metadata) = 'object')`);

    // externalId: unique where it is scoped (a parent's live children, a customer's live
    // accounts); the second index finds it across a subtree.
    await q.query(`CREATE UNIQUE INDEX customers_live_external_id ON customers (parent_id, external_id) WHERE deleted_at IS NULL AND external_id IS NOT NULL`);
    await q.query(`CREATE INDEX customers_external_id ON customers (external_id) WHERE deleted_at IS NULL AND external_id IS NOT NULL`);
    await q.query(`CREATE UNIQUE INDEX accounts_live_external_id ON accounts (customer_id, external_id) WHERE deleted_at IS NULL AND external_id IS NOT NULL`);
    await q.query(`CREATE INDEX accounts_external_id ON accounts (external_id) WHERE deleted_at IS NULL AND external_id IS NOT NULL`);

    // metadata[key]=value: metadata @> '{"key":"value"}' from a GIN index (jsonb_path_ops: only @>, smaller).
    await q.query(`CREATE INDEX customers_metadata ON customers USING gin (metadata jsonb_path_ops) WHERE deleted_at IS NULL`);
    await q.query(`CREATE INDEX accounts_metadata ON accounts USING gin (metadata jsonb_path_ops) WHERE deleted_at IS NULL`);

    // Sorted children (the default list): one index walk in the order asked, either direction.
    await q.query(`CREATE INDEX customers_children_name ON customers (parent_id, name, id) WHERE deleted_at IS NULL`);
    await q.query(`CREATE INDEX customers_children_created ON customers (parent_id, created_at, id) WHERE deleted_at IS NULL`);
    // Sorted accounts of one customer: (customer_id, created_at, id) exists (accounts_customer).
    await q.query(`CREATE INDEX accounts_customer_username ON accounts (customer_id, username, id) WHERE deleted_at IS NULL`);
    // Sorted subtrees: a subtree is a path range, which no index returns in name or time order.
    // For a large subtree (the root's, a big reseller's) the planner walks these in order and
    // drops rows outside the range; for a small one it reads the range and sorts it. Accounts by
    // username have accounts_live_username (usernames are unique among live accounts).
    await q.query(`CREATE INDEX customers_name_order ON customers (name, id) WHERE deleted_at IS NULL`);
    await q.query(`CREATE INDEX customers_created_order ON customers (created_at, id) WHERE deleted_at IS NULL`);
    await q.query(`CREATE INDEX accounts_created_order ON accounts (created_at, id) WHERE deleted_at IS NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const index of [
      'accounts_created_order',
      'customers_created_order',
      'customers_name_order',
      'accounts_customer_username',
      'customers_children_created',
      'customers_children_name',
      'accounts_metadata',
      'customers_metadata',
      'accounts_external_id',
      'accounts_live_external_id',
      'customers_external_id',
      'customers_live_external_id',
    ]) {
      await q.query(`DROP INDEX IF EXISTS ${index}`);
    }
    await q.query(`ALTER TABLE accounts DROP COLUMN external_id, DROP COLUMN metadata`);
    await q.query(`ALTER TABLE customers DROP COLUMN external_id, DROP COLUMN metadata, DROP COLUMN company_name, DROP COLUMN email,
      DROP COLUMN phone, DROP COLUMN address, DROP COLUMN tax_id`);
  }
}
