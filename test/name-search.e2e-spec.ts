import { Client } from 'pg';
import { createDataSource, migrate } from '../src/database/data-source';
import { StartupError } from '../src/common/startup-error';
import { GenericPlans } from '../src/database/generic-plans';
import { Actor, createCustomer, loginRoot } from './setup/factories';
import { databaseUrl, readTestDatabaseInfo } from './setup/test-database';
import { startTestApp, TestApp } from './setup/test-app';

type Plan = { 'Index Name'?: string; 'Node Type': string; Plans?: Plan[] };

/** Every index a plan (EXPLAIN FORMAT JSON) reads, whether it scans a table sequentially, and whether it sorts. */
function planIndexes(plan: Plan): { indexes: string[]; seqScan: boolean; sorts: boolean } {
  const indexes: string[] = [];
  let seqScan = false;
  let sorts = false;
  const walk = (node: Plan) => {
    if (node['Index Name']) indexes.push(node['Index Name']);
    if (node['Node Type'] === 'Seq Scan') seqScan = true;
    if (node['Node Type'] === 'Sort' || node['Node Type'] === 'Incremental Sort') sorts = true;
    node.Plans?.forEach(walk);
  };
  walk(plan);
  return { indexes, seqScan, sorts };
}

/**
 * `?q=` (a case-insensitive "contains" on names) is answered from a pg_trgm GIN index instead
 * of reading the whole subtree, and stays within the caller's subtree.
 */
describe('lists of a large tree use their indexes: name search (?q=) the trigram index, sort=balance the balance index', () => {
  let t: TestApp;
  let root: Actor, a: Actor, b: Actor;
  /** The SQL texts the app sent while `record` was on, with their parameters. */
  let recorded: Array<{ sql: string; params: unknown[]; generic?: boolean }> = [];
  let record = false;

  /**
   * 10,000 customers under `parent`, named "client <md5>" (distinct names, realistic trigrams),
   * each with one account "sip-<md5>", written in random order as a tree grown over time would be
   * (so that the rows of a subtree are not also neighbours on disk).
   */
  async function seedUnder(parent: Actor, salt: string): Promise<void> {
    await t.dataSource.query(
      `WITH p AS (SELECT id, path, depth FROM customers WHERE id = $1),
            s AS (SELECT nextval(pg_get_serial_sequence('customers', 'node_id')) AS n, g FROM generate_series(1, 10000) g)
       INSERT INTO customers (node_id, parent_id, path, depth, name, time_zone, language, web_login, web_password_hash, base_currency, permissions)
       OVERRIDING SYSTEM VALUE
       SELECT s.n, p.id, p.path || s.n || '/', p.depth + 1, 'client ' || md5($2 || s.g), 'UTC', 'en', 'seed-' || $2 || '-' || s.g, 'x', 'USD', '{}'
         FROM p, s ORDER BY random()`,
      [parent.id, salt],
    );
    await t.dataSource.query(
      `INSERT INTO accounts (customer_id, username, web_password_hash, voip_password, time_zone, language)
       SELECT c.id, 'sip-' || md5(c.web_login), 'x', 'x', 'UTC', 'en'
         FROM customers c WHERE c.web_login LIKE 'seed-' || $1 || '-%' ORDER BY random()`,
      [salt],
    );
  }

  beforeAll(async () => {
    t = await startTestApp();
    root = await loginRoot(t);
    a = await createCustomer(t, root);
    b = await createCustomer(t, root);
    await seedUnder(a, 'a');
    await seedUnder(b, 'b');
    // The same rare text in both subtrees: only A's may come back to A.
    await t.dataSource.query(`UPDATE customers SET name = 'Zebra Telecom ' || web_login WHERE web_login IN ('seed-a-77', 'seed-b-77')`);
    await t.dataSource.query(`UPDATE accounts SET username = 'zebra-phone-' || left(username, 12) WHERE customer_id IN
                                (SELECT id FROM customers WHERE web_login IN ('seed-a-77', 'seed-b-77'))`);
    await t.dataSource.query('ANALYZE customers, accounts');
    const query = t.dataSource.query.bind(t.dataSource);
    t.dataSource.query = (async (sql: string, params?: unknown[], ...rest: unknown[]) => {
      if (record) recorded.push({ sql, params: params ?? [] });
      return (query as (...args: unknown[]) => Promise<unknown>)(sql, params, ...rest);
    }) as typeof t.dataSource.query;
    // Hot reads go to the pg pool directly (src/database/prepared.ts): record those too.
    const pool = (t.dataSource.driver as unknown as { master: { query: (...args: unknown[]) => Promise<unknown> } }).master;
    const poolQuery = pool.query.bind(pool);
    pool.query = (async (config: unknown, values?: unknown[], ...rest: unknown[]) => {
      const text = typeof config === 'string' ? config : (config as { text: string }).text;
      if (record) recorded.push({ sql: text, params: values ?? (config as { values?: unknown[] }).values ?? [] });
      return poolQuery(config, values, ...rest);
    }) as typeof pool.query;
    // And the plain pages' generic-plan reads (src/database/generic-plans.ts).
    const genericPlans = t.app.get(GenericPlans);
    const genericQuery = genericPlans.query.bind(genericPlans);
    genericPlans.query = (async (text: string, values: unknown[]) => {
      if (record) recorded.push({ sql: text, params: values, generic: true });
      return genericQuery(text, values);
    }) as typeof genericPlans.query;
  }, 60000);
  afterAll(() => t.close());

  /** GET as `actor`, keeping the list statement (the one with ILIKE) the repository sent. */
  async function searched(actor: Actor, url: string) {
    recorded = [];
    record = true;
    const res = await actor.get(url);
    record = false;
    const statement = recorded.find((r) => /ILIKE/.test(r.sql));
    if (!statement) throw new Error(`no ILIKE statement was sent for ${url}`);
    return { res, statement };
  }

  async function explain(statement: { sql: string; params: unknown[]; generic?: boolean }): Promise<Plan> {
    if (statement.generic) return explainGeneric(statement);
    const rows: Array<{ 'QUERY PLAN': Array<{ Plan: Plan }> }> = await t.dataSource.query(`EXPLAIN (FORMAT JSON) ${statement.sql}`, statement.params);
    return rows[0]['QUERY PLAN'][0].Plan;
  }

  /** The plan a generic-plan connection runs the statement with: planned once, for no value in particular. */
  async function explainGeneric(statement: { sql: string; params: unknown[] }): Promise<Plan> {
    const runner = t.dataSource.createQueryRunner();
    await runner.connect();
    try {
      await runner.query('SET plan_cache_mode = force_generic_plan');
      await runner.query(`PREPARE generic_page AS ${statement.sql}`);
      const literals = statement.params.map((v) => `'${String(v).replace(/'/g, "''")}'`).join(', ');
      const rows: Array<{ 'QUERY PLAN': Array<{ Plan: Plan }> }> = await runner.query(`EXPLAIN (FORMAT JSON) EXECUTE generic_page(${literals})`);
      return rows[0]['QUERY PLAN'][0].Plan;
    } finally {
      await runner.query('DEALLOCATE ALL');
      await runner.query('RESET plan_cache_mode');
      await runner.release();
    }
  }

  it('answers a subtree search of 10,000 customers (20,000 in the tree) from customers_name_trgm, only within the subtree', async () => {
    const { res, statement } = await searched(a, '/v1/customers?scope=subtree&q=zebra%20telecom');
    expect(res.status).toBe(200);
    expect(res.body.items.map((i: { name: string }) => i.name)).toEqual(['Zebra Telecom seed-a-77']);
    const { indexes, seqScan } = planIndexes(await explain(statement));
    expect(indexes).toContain('customers_name_trgm');
    expect(seqScan).toBe(false);
  });

  it('answers a subtree page without ?q= from customers_path_key, never a sequential scan (planned once, on the generic-plan connections)', async () => {
    recorded = [];
    record = true;
    const res = await a.get('/v1/customers?scope=subtree&limit=50');
    record = false;
    expect(res.status).toBe(200);
    expect(res.body.items).toHaveLength(50);
    const statement = recorded.find((r) => /FROM customers/.test(r.sql) && /LIMIT/.test(r.sql));
    if (!statement) throw new Error('no list statement was sent');
    expect(statement.generic).toBe(true);
    const { indexes, seqScan } = planIndexes(await explain(statement));
    expect(indexes).toContain('customers_path_key');
    expect(seqScan).toBe(false);
  });

  it('answers a page of 10,000 children, and of a card pool of 20,000 accounts, sorted by balance by walking the balance indexes in order', async () => {
    await t.dataSource.query(
      `INSERT INTO accounts (customer_id, username, web_password_hash, voip_password, time_zone, language)
       SELECT $1, 'card-' || md5(g::text), 'x', 'x', 'UTC', 'en' FROM generate_series(1, 20000) g`,
      [a.id],
    );
    await t.dataSource.query(`UPDATE customer_balances SET balance = round((random() * 1000 - 100)::numeric, 2) WHERE parent_id = $1`, [a.id]);
    await t.dataSource.query(`UPDATE account_balances SET balance = round((random() * 100)::numeric, 2) WHERE customer_id = $1`, [a.id]);
    await t.dataSource.query('ANALYZE customer_balances, account_balances');
    const cases = [
      {
        url: '/v1/customers?sort=balance&limit=20',
        index: 'customer_balances_children',
        expected: `SELECT customer_id AS id FROM customer_balances WHERE parent_id = $1 ORDER BY balance, customer_id LIMIT 20`,
      },
      {
        url: '/v1/accounts?sort=-balance&balanceBelow=50&limit=20',
        index: 'account_balances_customer',
        expected: `SELECT account_id AS id FROM account_balances WHERE customer_id = $1 AND balance < 50 ORDER BY balance DESC, account_id DESC LIMIT 20`,
      },
    ];
    for (const { url, index, expected } of cases) {
      recorded = [];
      record = true;
      const res = await a.get(url);
      record = false;
      expect(res.status).toBe(200);
      const ids: Array<{ id: string }> = await t.dataSource.query(expected, [a.id]);
      expect(res.body.items.map((i: { id: string }) => i.id)).toEqual(ids.map((r) => r.id));
      const statement = recorded.find((r) => /_balances/.test(r.sql) && /LIMIT/.test(r.sql));
      if (!statement) throw new Error(`no list statement was sent for ${url}`);
      const { indexes, seqScan, sorts } = planIndexes(await explain(statement));
      expect({ url, indexes, seqScan, sorts }).toEqual({ url, indexes: expect.arrayContaining([index]), seqScan: false, sorts: false });
    }
  });

  it('finds the other subtree’s customer only for its own caller', async () => {
    const { res } = await searched(b, '/v1/customers?scope=subtree&q=ZEBRA');
    expect(res.status).toBe(200);
    expect(res.body.items.map((i: { name: string }) => i.name)).toEqual(['Zebra Telecom seed-b-77']);
  });

  it('answers a subtree search of 10,000 account usernames from accounts_username_trgm, only within the subtree', async () => {
    const { res, statement } = await searched(a, '/v1/accounts?scope=subtree&q=ZEBRA-phone');
    expect(res.status).toBe(200);
    expect(res.body.items).toHaveLength(1);
    expect(res.body.items[0].username).toMatch(/^zebra-phone-sip-/);
    const [owner] = await t.dataSource.query(`SELECT web_login FROM customers WHERE id = $1`, [res.body.items[0].customerId]);
    expect(owner.web_login).toBe('seed-a-77');
    const { indexes, seqScan } = planIndexes(await explain(statement));
    expect(indexes).toContain('accounts_username_trgm');
    expect(seqScan).toBe(false);
  });
});

describe('the pg_trgm migration on a database where the role may not create it', () => {
  it('stops with one sentence naming the fix', async () => {
    const info = readTestDatabaseInfo();
    const admin = new Client({ connectionString: info.adminUrl });
    await admin.connect();
    const suffix = Math.random().toString(36).slice(2, 8);
    const role = `canopy_no_ext_${suffix}`;
    const database = `canopy_no_ext_${suffix}`;
    try {
      await admin.query(`CREATE ROLE ${role} LOGIN PASSWORD 'no-ext-password'`);
      // Owned by the admin: the role may create tables in public but not extensions in the database.
      await admin.query(`CREATE DATABASE ${database}`);
      const inDb = new Client({ connectionString: databaseUrl(info.adminUrl, database) });
      await inDb.connect();
      await inDb.query(`GRANT CREATE, USAGE ON SCHEMA public TO ${role}`);
      await inDb.end();
      const url = new URL(databaseUrl(info.adminUrl, database));
      url.username = role;
      url.password = 'no-ext-password';
      const dataSource = createDataSource(url.toString(), 2);
      await dataSource.initialize();
      try {
        const failure = await migrate(dataSource).then(
          () => undefined,
          (error: unknown) => error,
        );
        expect(failure).toBeInstanceOf(StartupError);
        expect((failure as Error).message).toMatch(
          new RegExp(`pg_trgm extension in database "${database}".*this role may not create it.*run CREATE EXTENSION pg_trgm; in that database`),
        );
        // Nothing of that migration stays; the ones before it are applied.
        const applied: Array<{ name: string }> = await dataSource.query(`SELECT name FROM migrations ORDER BY id`);
        expect(applied.map((m) => m.name)).not.toContain('NameSearch1764200100000');
        expect(applied.map((m) => m.name)).toContain('CurrencyCodes1764100900000');
      } finally {
        await dataSource.destroy();
      }
    } finally {
      await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      await admin.query(`DROP ROLE IF EXISTS ${role}`);
      await admin.end();
    }
  }, 60000);
});
