/**
 * The query plans of customer and account lists (docs/integrators.md, "Lists"), measured, not
 * guessed: starts an embedded PostgreSQL, migrates, seeds 100,000 customers (40 resellers
 * under the root, 2,500 customers each) with 100,000 accounts (one each) and a prepaid-card
 * pool (a customer of the first reseller) holding 20,000 accounts, then runs
 * EXPLAIN (ANALYZE, BUFFERS) on the exact SQL the repositories issue for the list
 * combinations below. Not a test (nothing asserted); run by hand after `npm run build`:
 *
 *   npx ts-node-transpile-only test/plans/list-plans.ts
 *
 * PLANS_DATABASE_URL: use that (empty or already seeded) database instead, and keep it.
 */
import 'reflect-metadata';
import { chmodSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import type { DataSource } from 'typeorm';
import { AccountsRepository } from '../../src/accounts/accounts.repository';
import type { Cursors } from '../../src/common/pagination';
import { CustomersRepository } from '../../src/customers/customers.repository';
import { createDataSource, migrate } from '../../src/database/data-source';
import { startEmbeddedPostgres } from '../../src/database/embedded-postgres';
import type { GenericPlans } from '../../src/database/generic-plans';
import type { PointReads } from '../../src/database/point-reads';
import type { Caller } from '../../src/tree/caller';
import { freePort } from '../setup/free-port';

const RESELLERS = 40;
const PER_RESELLER = 2500;

/** A DataSource that only records the statement a repository would run. */
class Capture {
  sql = '';
  params: unknown[] = [];
  query(sql: string, params: unknown[]): Promise<never> {
    this.sql = sql;
    this.params = params;
    return Promise.reject(new Error('captured'));
  }
  get manager() {
    return this;
  }
  /** `poolQuery` and `preparedQuery` run on the pool behind the driver: the same recording. */
  get driver() {
    return { master: this };
  }
}

async function main(): Promise<void> {
  let url = process.env.PLANS_DATABASE_URL;
  let stop = async () => {};
  if (!url) {
    const dir = mkdtempSync(path.join(tmpdir(), 'canopy-plans-'));
    chmodSync(dir, 0o755);
    const pg = await startEmbeddedPostgres({ dataDir: path.join(dir, 'data'), port: await freePort(), persistent: false });
    const admin = new Client({ connectionString: pg.adminUrl });
    await admin.connect();
    await admin.query('CREATE DATABASE canopy_plans');
    await admin.end();
    url = pg.url('canopy_plans');
    stop = () => pg.stop();
  }
  const ds: DataSource = createDataSource(url, 2);
  await ds.initialize();
  await migrate(ds);
  await ds.destroy();
  const db = new Client({ connectionString: url });
  await db.connect();
  try {
    const version: Array<{ server_version: string }> = (await db.query('SHOW server_version')).rows;
    console.log(`PostgreSQL ${version[0].server_version}; ${RESELLERS} resellers × ${PER_RESELLER} customers, one account each`);
    if (!(await db.query('SELECT 1 FROM customers LIMIT 1')).rows.length) await seed(db);
    const ids = (await db.query(`SELECT id, path, depth FROM customers WHERE depth = 1 ORDER BY node_id LIMIT 1`)).rows[0] as { id: string; path: string; depth: number };
    const root = (await db.query(`SELECT id, path, depth FROM customers WHERE depth = 0`)).rows[0] as { id: string; path: string; depth: number };
    const caller = (row: { id: string; path: string; depth: number }): Caller =>
      ({ customerId: row.id, path: row.path, depth: row.depth, baseCurrency: 'USD', isRoot: row.depth === 0, permissions: new Set(), exchangeRates: new Map(), authMethod: 'password', apiKeyId: null, kind: 'customer', accountId: null, language: 'en' }) as Caller;
    const reseller = caller(ids);
    const rootCaller = caller(root);
    const capture = new Capture();
    const firstPage = { decode: () => Promise.resolve(undefined) } as unknown as Cursors;
    // Plain pages' generic-plan reads are recorded the same way.
    const customers = new CustomersRepository(capture as unknown as DataSource, firstPage, capture as unknown as GenericPlans, capture as unknown as PointReads);
    const accounts = new AccountsRepository(capture as unknown as DataSource, firstPage, capture as unknown as PointReads);
    const base = (c: Caller) => ({ id: c.customerId, path: c.path, depth: c.depth });

    const pool = caller((await db.query(`SELECT id, path, depth FROM customers WHERE web_login = 'cardpool'`)).rows[0] as { id: string; path: string; depth: number });
    const cases: Array<[string, () => Promise<unknown>]> = [
      ['GET /v1/customers?sort=name — a reseller’s 2,500 children by name', () => customers.list(reseller, { base: base(reseller), scope: 'children', filters: {}, sort: 'name' }, undefined, 50)],
      ['GET /v1/customers?scope=subtree&sort=-createdAt — the root’s whole tree (100,041 customers), newest first', () => customers.list(rootCaller, { base: base(rootCaller), scope: 'subtree', filters: {}, sort: '-createdAt' }, undefined, 50)],
      ['GET /v1/accounts?customerId=<pool>&status=active&sort=name — a card pool’s 20,000 accounts by username', () => accounts.list(reseller, { base: base(pool), scope: 'own', filters: { status: 'active' }, sort: 'name' }, undefined, 50)],
      ['GET /v1/customers?status=active&sort=-createdAt — a reseller’s children, newest first', () => customers.list(reseller, { base: base(reseller), scope: 'children', filters: { status: 'active' }, sort: '-createdAt' }, undefined, 50)],
      ['GET /v1/customers?balanceBelow=10&sort=balance — a reseller’s children with the lowest balances', () => customers.list(reseller, { base: base(reseller), scope: 'children', filters: { balanceBelow: '10' }, sort: 'balance' }, undefined, 50)],
      ['GET /v1/customers?scope=subtree&sort=name — a reseller’s subtree (2,501) by name', () => customers.list(reseller, { base: base(reseller), scope: 'subtree', filters: {}, sort: 'name' }, undefined, 50)],
      ['GET /v1/customers?scope=subtree&sort=-balance — the root’s whole tree by balance', () => customers.list(rootCaller, { base: base(rootCaller), scope: 'subtree', filters: {}, sort: '-balance' }, undefined, 50)],
      ['GET /v1/customers?scope=subtree&metadata[crmId]=crm-77 — the root', () => customers.list(rootCaller, { base: base(rootCaller), scope: 'subtree', filters: { metadata: { crmId: 'crm-77' } } }, undefined, 50)],
      ['GET /v1/customers?scope=subtree&externalId=ext-1234 — the root', () => customers.list(rootCaller, { base: base(rootCaller), scope: 'subtree', filters: { externalId: 'ext-1234' } }, undefined, 50)],
      ['GET /v1/accounts?customerId=<pool>&balanceBelow=1&sort=balance — a card pool’s nearly empty cards', () => accounts.list(reseller, { base: base(pool), scope: 'own', filters: { balanceBelow: '1' }, sort: 'balance' }, undefined, 50)],
      ['GET /v1/accounts?customerId=<pool>&metadata[batch]=b7 — one batch of a card pool', () => accounts.list(reseller, { base: base(pool), scope: 'own', filters: { metadata: { batch: 'b7' } } }, undefined, 50)],
      ['GET /v1/accounts?scope=subtree&sort=-createdAt — a reseller’s subtree (22,500 accounts), newest first', () => accounts.list(reseller, { base: base(reseller), scope: 'subtree', filters: {}, sort: '-createdAt' }, undefined, 50)],
      ['GET /v1/accounts?scope=subtree&balanceBelow=5&sort=balance — a reseller’s subtree, lowest balances', () => accounts.list(reseller, { base: base(reseller), scope: 'subtree', filters: { balanceBelow: '5' }, sort: 'balance' }, undefined, 50)],
      ['GET /v1/accounts?scope=subtree&sort=name — the root’s 120,000 accounts by username', () => accounts.list(rootCaller, { base: base(rootCaller), scope: 'subtree', filters: {}, sort: 'name' }, undefined, 50)],
    ];
    for (const [title, run] of cases) {
      await run().catch(() => undefined);
      // Twice: the first run warms the cache; the plan shown is the second.
      await db.query(`EXPLAIN (ANALYZE, BUFFERS) ${capture.sql}`, capture.params);
      const plan = (await db.query(`EXPLAIN (ANALYZE, BUFFERS) ${capture.sql}`, capture.params)).rows.map((r: Record<string, string>) => r['QUERY PLAN']);
      console.log(`\n### ${title}\n\n\`\`\`\n${plan.join('\n')}\n\`\`\``);
    }
  } finally {
    await db.end();
    await stop();
  }
}

async function seed(db: Client): Promise<void> {
  await db.query(`
    INSERT INTO customers (parent_id, path, depth, name, time_zone, language, web_login, web_password_hash, base_currency)
    OVERRIDING SYSTEM VALUE
    SELECT NULL, '/1/', 0, 'root', 'UTC', 'en', 'root', 'x', 'USD'`);
  await db.query(`UPDATE customers SET path = '/' || node_id || '/' WHERE depth = 0`);
  await db.query(`INSERT INTO tariffs (owner_id, name, currency) SELECT id, 'plan', 'USD' FROM customers WHERE depth = 0`);
  // Resellers, then their customers; names, creation times and balances spread at random.
  await db.query(`
    WITH root AS (SELECT id, path FROM customers WHERE depth = 0), t AS (SELECT id FROM tariffs LIMIT 1),
    n AS (SELECT nextval(pg_get_serial_sequence('customers', 'node_id')) AS node_id, g FROM generate_series(1, ${RESELLERS}) g)
    INSERT INTO customers (node_id, parent_id, path, depth, name, tariff_id, time_zone, language, web_login, web_password_hash, base_currency, created_at)
    OVERRIDING SYSTEM VALUE
    SELECT n.node_id, root.id, root.path || n.node_id || '/', 1, 'reseller ' || g, t.id, 'UTC', 'en', 'reseller' || g, 'x', 'USD', now() - interval '400 days'
      FROM n, root, t`);
  await db.query(`
    WITH r AS (SELECT id, path FROM customers WHERE depth = 1), t AS (SELECT id FROM tariffs LIMIT 1),
    n AS (SELECT nextval(pg_get_serial_sequence('customers', 'node_id')) AS node_id, r.id AS parent, r.path, g
            FROM r, generate_series(1, ${PER_RESELLER}) g)
    INSERT INTO customers (node_id, parent_id, path, depth, name, tariff_id, time_zone, language, web_login, web_password_hash, base_currency,
                           opening_balance, status, created_at, external_id, metadata)
    OVERRIDING SYSTEM VALUE
    SELECT n.node_id, n.parent, n.path || n.node_id || '/', 2, md5(n.node_id::text), t.id, 'UTC', 'en', 'c' || n.node_id, 'x', 'USD',
           round((random() * 200 - 20)::numeric, 2), CASE WHEN random() < 0.05 THEN 'suspended' ELSE 'active' END,
           now() - random() * interval '365 days', 'ext-' || n.node_id,
           CASE WHEN random() < 0.3 THEN jsonb_build_object('crmId', 'crm-' || (n.node_id % 1000), 'segment', 'retail') ELSE '{}' END
      FROM n, t`);
  await db.query(`
    INSERT INTO accounts (customer_id, username, web_password_hash, voip_password, tariff_id, time_zone, language, opening_balance, created_at, metadata)
    SELECT c.id, 'sip' || c.node_id, 'x', 'voip-password', c.tariff_id, 'UTC', 'en', round((random() * 50 - 5)::numeric, 2),
           c.created_at + random() * interval '10 days', '{}'
      FROM customers c WHERE c.depth = 2`);
  await db.query(`
    WITH r AS (SELECT id, path FROM customers WHERE depth = 1 ORDER BY node_id LIMIT 1), t AS (SELECT id FROM tariffs LIMIT 1),
    n AS (SELECT nextval(pg_get_serial_sequence('customers', 'node_id')) AS node_id)
    INSERT INTO customers (node_id, parent_id, path, depth, name, tariff_id, time_zone, language, web_login, web_password_hash, base_currency, created_at)
    OVERRIDING SYSTEM VALUE
    SELECT n.node_id, r.id, r.path || n.node_id || '/', 2, 'card pool', t.id, 'UTC', 'en', 'cardpool', 'x', 'USD', now() - interval '300 days' FROM n, r, t`);
  await db.query(`
    INSERT INTO accounts (customer_id, username, web_password_hash, voip_password, tariff_id, time_zone, language, opening_balance, created_at, metadata)
    SELECT c.id, 'card' || lpad(g::text, 6, '0'), 'x', 'voip-password', c.tariff_id, 'UTC', 'en', round((random() * 20)::numeric, 2),
           now() - interval '300 days' + g * interval '1 minute', jsonb_build_object('batch', 'b' || (g / 1000))
      FROM customers c, generate_series(1, 20000) g WHERE c.web_login = 'cardpool'`);
  // Their balance rows start at the opening balances (the insert triggers); seeded as such.
  for (const table of ['customers', 'accounts', 'customer_balances', 'account_balances']) await db.query(`VACUUM ANALYZE ${table}`);
}

void main().catch((error) => {
  console.error(error);
  process.exit(1);
});
