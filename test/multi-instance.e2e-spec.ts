import Big from 'big.js';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { Client } from 'pg';
import { MIGRATIONS } from '../migrations';
import { createDataSource, migrate } from '../src/database/data-source';
import { HttpResult, Instance, MAIN, loginRoot, request, seedTree, startInstances } from '../scripts/chaos-lib';
import { databaseUrl, dropTestDatabase, readTestDatabaseInfo, sqlOnce } from './setup/test-database';

/**
 * Two built instances (separate processes) on one PostgreSQL, as behind a load balancer:
 * start-up, idempotency, the credit check and the login limiter must hold across them.
 */
describe('several instances on one database', () => {
  const info = readTestDatabaseInfo();
  const name = `${info.prefix}multi_${randomBytes(4).toString('hex')}`;
  const url = databaseUrl(info.adminUrl, name);
  let a: Instance;
  let b: Instance;
  let token: string;

  const sql = <T>(text: string, params: unknown[] = []): Promise<T[]> => sqlOnce<T>(url, text, params);
  const operate = (instance: Instance, customerId: string, body: object, key: string = randomUUID()): Promise<HttpResult> =>
    request(instance.url, 'POST', `/v1/customers/${customerId}/balance-operations`, {
      body,
      headers: { authorization: `Bearer ${token}`, 'idempotency-key': key },
    });

  beforeAll(async () => {
    if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npm run build\` first (\`npm test\` builds in pretest).`);
    // An empty database, not the migrated template: both instances migrate and bootstrap at once.
    const admin = new Client({ connectionString: info.adminUrl });
    await admin.connect();
    await admin.query(`CREATE DATABASE "${name}"`).finally(() => admin.end());
    [a, b] = await startInstances(url, 2, { LOGIN_MAX_FAILURES: '3', SHUTDOWN_GRACE_SECONDS: '2' });
    token = await loginRoot(a);
  }, 90000);

  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await dropTestDatabase(info, name);
  });

  it('migrate one empty database from several data sources at once without failing', async () => {
    // In-process, so that the three start at the same instant (the race is certain).
    const other = `${info.prefix}migrate_${randomBytes(4).toString('hex')}`;
    const admin = new Client({ connectionString: info.adminUrl });
    await admin.connect();
    await admin.query(`CREATE DATABASE "${other}"`).finally(() => admin.end());
    const sources = [1, 2, 3].map(() => createDataSource(databaseUrl(info.adminUrl, other), 1));
    try {
      await Promise.all(sources.map((s) => s.initialize()));
      const applied = await Promise.all(sources.map((s) => migrate(s)));
      expect(applied.flat().sort()).toEqual(MIGRATIONS.map((m) => m.name).sort());
    } finally {
      await Promise.all(sources.map((s) => s.destroy()));
      await dropTestDatabase(info, other);
    }
  });

  it('start together on an empty database: migrations applied once, one root', async () => {
    const migrations = await sql<{ name: string }>(`SELECT name FROM migrations`);
    expect(migrations).toHaveLength(MIGRATIONS.length);
    expect(await sql(`SELECT id FROM customers WHERE parent_id IS NULL`)).toHaveLength(1);
    // The token from A is good on B (the generated JWT secret is shared through the database).
    const me = await request(b.url, 'GET', '/v1/me', { headers: { authorization: `Bearer ${token}` } });
    expect(me.status).toBe(200);
  });

  it('apply the same idempotent request sent to both at once only once, with identical answers', async () => {
    const [customer] = await seedTree(a, token, 1);
    const keys = Array.from({ length: 10 }, () => randomUUID());
    const pairs = await Promise.all(
      keys.map((key) => Promise.all([a, b].map((instance) => operate(instance, customer.id, { action: 'add_funds', amount: '1.25' }, key)))),
    );
    for (const [first, second] of pairs) {
      expect([first.status, second.status]).toEqual([201, 201]);
      expect(second.body).toEqual(first.body);
      // Exactly one of the two did the work; the other replayed it.
      expect([first, second].filter((r) => r.headers['idempotent-replayed'] === 'true')).toHaveLength(1);
    }
    const entries = await sql<{ idempotency_key: string; n: number }>(
      `SELECT idempotency_key, count(*)::int AS n FROM ledger_entries WHERE idempotency_key = ANY($1) GROUP BY idempotency_key`,
      [keys],
    );
    expect(entries).toHaveLength(10);
    expect(entries.every((e) => e.n === 1)).toBe(true);
    const [row] = await sql<{ balance: string }>(`SELECT balance::text AS balance FROM customer_balances WHERE customer_id = $1`, [customer.id]);
    expect(new Big(row.balance).minus(customer.balance).toFixed(2)).toBe('12.50');
  });

  it('let through exactly as many concurrent debits as the available credit covers', async () => {
    const create = await request(a.url, 'POST', '/v1/tariffs', { body: { name: `t-${randomUUID()}`, currency: 'USD' }, headers: { authorization: `Bearer ${token}` } });
    const customerRes = await request(b.url, 'POST', '/v1/customers', {
      headers: { authorization: `Bearer ${token}` },
      body: { name: 'debits', tariffId: create.body.id, webLogin: `d-${randomBytes(4).toString('hex')}`, webPassword: 'password-123', balance: '10.00', creditLimit: '15.00' },
    });
    expect(customerRes.status).toBe(201);
    const id: string = customerRes.body.id;
    // 20 to each instance: 25 successes mean both instances accepted some.
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => operate(i % 2 ? a : b, id, { action: 'debit', amount: '1.00' })));
    expect(results.filter((r) => r.status === 201)).toHaveLength(25);
    const refused = results.filter((r) => r.status === 422);
    expect(refused).toHaveLength(15);
    for (const r of refused) expect(r.body).toMatchObject({ type: 'https://canopy.dev/problems/insufficient-funds', availableCredit: '0.00' });
    const [sums] = await sql<{ balance: string; sum: string; debits: number }>(
      `SELECT b.balance::text AS balance, sum(e.converted_amount)::text AS sum, count(*) FILTER (WHERE e.action = 'debit')::int AS debits
         FROM customer_balances b JOIN ledger_entries e ON e.customer_id = b.customer_id WHERE b.customer_id = $1 GROUP BY b.balance`,
      [id],
    );
    expect(sums.balance).toBe('-15.00000000');
    expect(new Big(sums.sum).toFixed(8)).toBe('-15.00000000');
    expect(sums.debits).toBe(25);
  });

  it('stop on SIGTERM within the grace period even while a client holds a silent connection', async () => {
    // A connection that has not sent a request yet (a pre-connecting proxy, an aborted fetch)
    // counts as busy to Node's HTTP server, and used to hold the shutdown for a minute.
    const socket = net.connect(b.port!, '127.0.0.1');
    await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    socket.on('error', () => undefined);
    const outcome = await b.stop(20000);
    socket.destroy();
    expect(outcome).toMatchObject({ code: 0, timedOut: false });
    expect(outcome!.ms).toBeLessThan(6000);
    // The other instance carries on alone.
    expect((await request(a.url, 'GET', '/health/ready')).status).toBe(200);
    await b.start();
  }, 30000);

  // Last: the failures also count against the client address (127.0.0.1 for every test here).
  it('count login failures across instances (LOGIN_MAX_FAILURES=3)', async () => {
    const [customer] = await seedTree(a, token, 1);
    const [{ web_login: login }] = await sql<{ web_login: string }>(`SELECT web_login FROM customers WHERE id = $1`, [customer.id]);
    const attempt = (instance: Instance, password: string) => request(instance.url, 'POST', '/v1/auth/login', { body: { login, password } });
    for (const instance of [a, b, a]) expect((await attempt(instance, 'wrong-password')).status).toBe(401);
    for (const instance of [b, a]) {
      const limited = await attempt(instance, 'chaos-password-1'); // even the right password
      expect(limited.status).toBe(429);
      expect(limited.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    }
  });
});
