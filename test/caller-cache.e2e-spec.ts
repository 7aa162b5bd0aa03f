import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { Client } from 'pg';
import { HttpResult, Instance, MAIN, loginRoot, request, startInstances } from '../scripts/chaos-lib';
import { CallerChanges } from '../src/database/notifications';
import { Actor, createCustomer, loginRoot as loginRootIn } from './setup/factories';
import { startTestApp, TestApp } from './setup/test-app';
import { createTestDatabase, dropTestDatabase, readTestDatabaseInfo, sqlOnce } from './setup/test-database';

/**
 * Callers are cached per instance (README, "Caller cache and revocation"). Two built instances
 * on one database: a change made on A must refuse the very next request on A, and a request
 * on B within 1 second (SPEC §2, "Revocation timing"), for each kind of change. Both caches
 * are warmed first, so that a cache that were not invalidated would answer with the old caller.
 */
describe('caller cache across instances', () => {
  const info = readTestDatabaseInfo();
  let dbName: string;
  let url: string;
  let a: Instance;
  let b: Instance;
  let rootToken: string;

  const call = (instance: Instance, method: string, path: string, token?: string, body?: object): Promise<HttpResult> =>
    request(instance.url, method, path, { body, headers: token ? { authorization: `Bearer ${token}` } : {} });

  const sql = <T>(text: string, params: unknown[] = []): Promise<T[]> => sqlOnce<T>(url, text, params);

  /** Asks `instance` until `done` holds or 1 second has passed (SPEC's bound); returns the last answer. */
  async function within1s(instance: Instance, path: string, token: string, done: (res: HttpResult) => boolean): Promise<HttpResult> {
    const deadline = Date.now() + 1000;
    for (;;) {
      const res = await call(instance, 'GET', path, token);
      if (done(res) || Date.now() > deadline) return res;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** GET `path` answers 200 on both instances (their caches now hold this caller). */
  async function warm(path: string, token: string): Promise<void> {
    for (const instance of [a, b, a, b]) expect((await call(instance, 'GET', path, token)).status).toBe(200);
  }

  /** After a change made on A: A refuses at once, B within 1 s, both with `status` as problem+json. */
  async function expectRefused(path: string, token: string, status: 401 | 403): Promise<void> {
    const onA = await call(a, 'GET', path, token);
    expect(onA.status).toBe(status);
    const onB = await within1s(b, path, token, (res) => res.status !== 200);
    expect(onB.status).toBe(status);
    expect(onB.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(onB.body).toMatchObject({ status });
  }

  beforeAll(async () => {
    if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npm run build\` first (\`npm test\` builds in pretest).`);
    const db = await createTestDatabase(info);
    dbName = db.name;
    url = db.url;
    [a, b] = await startInstances(db.url, 2, { LOGIN_MAX_FAILURES: '1000' });
    rootToken = await loginRoot(a);
  }, 90000);

  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    if (dbName) await dropTestDatabase(info, dbName);
  });

  /** A customer of the parent whose token is given (created on A, logged in on B), with its own tariff for children. */
  async function customer(parentToken: string, extra: object = {}) {
    const tariff = await call(a, 'POST', '/v1/tariffs', parentToken, { name: `t-${randomBytes(4).toString('hex')}`, currency: 'USD' });
    expect(tariff.status).toBe(201);
    const webLogin = `l-${randomBytes(4).toString('hex')}`;
    const created = await call(a, 'POST', '/v1/customers', parentToken, { name: webLogin, tariffId: tariff.body.id, webLogin, webPassword: 'password-123', ...extra });
    expect(created.status).toBe(201);
    const session = await call(b, 'POST', '/v1/auth/login', undefined, { login: webLogin, password: 'password-123' });
    expect(session.status).toBe(200);
    return { id: created.body.id as string, webLogin, token: session.body.accessToken as string };
  }

  it('password change on A: the old token is refused on A at once and on B within 1 s', async () => {
    const x = await customer(rootToken);
    await warm('/v1/me', x.token);
    const changed = await call(a, 'PATCH', '/v1/me', x.token, { currentPassword: 'password-123', newPassword: 'password-456' });
    expect(changed.status).toBe(200);
    await expectRefused('/v1/me', x.token, 401);
    // The new password's token is good on both.
    const fresh = await call(b, 'POST', '/v1/auth/login', undefined, { login: x.webLogin, password: 'password-456' });
    for (const instance of [a, b]) expect((await call(instance, 'GET', '/v1/me', fresh.body.accessToken)).status).toBe(200);
  });

  it('suspension of the customer on A: refused on A at once and on B within 1 s; reactivation restores it', async () => {
    const x = await customer(rootToken);
    await warm('/v1/me', x.token);
    expect((await call(a, 'PATCH', `/v1/customers/${x.id}`, rootToken, { status: 'suspended' })).status).toBe(200);
    await expectRefused('/v1/me', x.token, 401);
    expect((await call(a, 'PATCH', `/v1/customers/${x.id}`, rootToken, { status: 'active' })).status).toBe(200);
    // Its own sessions ended with the suspension; a new login works on both.
    const fresh = await call(b, 'POST', '/v1/auth/login', undefined, { login: x.webLogin, password: 'password-123' });
    for (const instance of [a, b]) expect((await call(instance, 'GET', '/v1/me', fresh.body.accessToken)).status).toBe(200);
  });

  it('suspension of an ancestor on A: the whole subtree is refused on A at once and on B within 1 s', async () => {
    const p = await customer(rootToken);
    const x = await customer(p.token);
    const y = await customer(x.token);
    await warm('/v1/me', x.token);
    await warm('/v1/me', y.token);
    await warm('/v1/me', rootToken);
    expect((await call(a, 'PATCH', `/v1/customers/${p.id}`, rootToken, { status: 'suspended' })).status).toBe(200);
    await expectRefused('/v1/me', x.token, 401);
    await expectRefused('/v1/me', y.token, 401);
    // Above the suspension nothing changes.
    for (const instance of [a, b]) expect((await call(instance, 'GET', '/v1/me', rootToken)).status).toBe(200);
    // Reactivated, the same tokens work again (below a suspension sessions are only refused).
    expect((await call(a, 'PATCH', `/v1/customers/${p.id}`, rootToken, { status: 'active' })).status).toBe(200);
    expect((await call(a, 'GET', '/v1/me', y.token)).status).toBe(200);
    expect((await within1s(b, '/v1/me', y.token, (res) => res.status === 200)).status).toBe(200);
  });

  it('deletion of the customer on A: refused on A at once and on B within 1 s', async () => {
    const x = await customer(rootToken);
    await warm('/v1/me', x.token);
    expect((await call(a, 'DELETE', `/v1/customers/${x.id}`, rootToken)).status).toBe(204);
    await expectRefused('/v1/me', x.token, 401);
  });

  it('an account principal: blocked, its password changed, or a customer above suspended on A — refused on A at once and on B within 1 s', async () => {
    const p = await customer(rootToken);
    const x = await customer(p.token);
    const tariff = await call(a, 'POST', '/v1/tariffs', x.token, { name: `t-${randomBytes(4).toString('hex')}`, currency: 'USD' });
    const accountLogin = async () => {
      const username = `sip-${randomBytes(4).toString('hex')}`;
      const created = await call(a, 'POST', '/v1/accounts', x.token, { username, webPassword: 'password-123', voipPassword: 'voip-123456', tariffId: tariff.body.id });
      expect(created.status).toBe(201);
      const session = await call(b, 'POST', '/v1/auth/account-login', undefined, { username, password: 'password-123' });
      expect(session.status).toBe(200);
      return { id: created.body.id as string, token: session.body.accessToken as string };
    };
    // Blocked by its customer.
    const blocked = await accountLogin();
    await warm('/v1/me', blocked.token);
    expect((await call(a, 'PATCH', `/v1/accounts/${blocked.id}`, x.token, { status: 'blocked' })).status).toBe(200);
    await expectRefused('/v1/me', blocked.token, 401);
    // Its own password change.
    const own = await accountLogin();
    await warm('/v1/me', own.token);
    expect((await call(a, 'PATCH', '/v1/me', own.token, { currentPassword: 'password-123', newPassword: 'password-456' })).status).toBe(200);
    await expectRefused('/v1/me', own.token, 401);
    // A customer above its customer suspended, then reactivated: the same token works again.
    const below = await accountLogin();
    await warm('/v1/me', below.token);
    expect((await call(a, 'PATCH', `/v1/customers/${p.id}`, rootToken, { status: 'suspended' })).status).toBe(200);
    await expectRefused('/v1/me', below.token, 401);
    expect((await call(a, 'PATCH', `/v1/customers/${p.id}`, rootToken, { status: 'active' })).status).toBe(200);
    expect((await call(a, 'GET', '/v1/me', below.token)).status).toBe(200);
    expect((await within1s(b, '/v1/me', below.token, (res) => res.status === 200)).status).toBe(200);
  });

  it('API key revocation on A: its tokens are refused on A at once and on B within 1 s; the password session stays', async () => {
    const x = await customer(rootToken);
    const key = await call(a, 'POST', '/v1/api-keys', x.token, { name: 'k' });
    expect(key.status).toBe(201);
    const exchanged = await call(a, 'POST', '/v1/auth/token', undefined, { apiKey: key.body.apiKey });
    expect(exchanged.status).toBe(200);
    const keyToken: string = exchanged.body.accessToken;
    await warm('/v1/me', keyToken);
    await warm('/v1/me', x.token);
    expect((await call(a, 'DELETE', `/v1/api-keys/${key.body.id}`, x.token)).status).toBe(204);
    await expectRefused('/v1/me', keyToken, 401);
    for (const instance of [a, b]) expect((await call(instance, 'GET', '/v1/me', x.token)).status).toBe(200);
  });

  it('permission change on A: a right removed is a 403 on A at once and on B within 1 s, also one removed from an ancestor', async () => {
    const p = await customer(rootToken);
    const x = await customer(p.token);
    const read = '/v1/system/settings'; // needs system.read, which root alone holds by default
    const grant = async (id: string, give: boolean) => {
      const grants = await call(a, 'GET', `/v1/customers/${id}/permissions`, rootToken);
      const others = (grants.body.permissions as string[]).filter((right) => right !== 'system.read');
      const put = await call(a, 'PUT', `/v1/customers/${id}/permissions`, rootToken, { permissions: give ? [...others, 'system.read'] : others });
      expect(put.status).toBe(200);
    };
    await grant(p.id, true);
    await grant(x.id, true);
    await warm(read, x.token);
    await grant(x.id, false);
    await expectRefused(read, x.token, 403);
    expect((await call(b, 'GET', read, x.token)).body).toMatchObject({ status: 403, detail: expect.stringContaining('system.read') });

    // Given back to x (on A: B hears of it within 1 s), then taken from its parent: rights are cut from above.
    await grant(x.id, true);
    expect((await call(a, 'GET', read, x.token)).status).toBe(200);
    expect((await within1s(b, read, x.token, (res) => res.status === 200)).status).toBe(200);
    await warm(read, x.token);
    await grant(p.id, false);
    await expectRefused(read, x.token, 403);
  });

  it('exchange-rate change on A: the caller’s table is the new one on A at once and on B within 1 s', async () => {
    const x = await customer(rootToken);
    const y = await customer(x.token, { baseCurrency: 'EUR', balance: '10' });
    expect((await call(a, 'PUT', '/v1/exchange-rates/EUR', x.token, { rate: '2' })).status).toBe(200);
    const shown = async (instance: Instance) => (await call(instance, 'GET', `/v1/customers/${y.id}`, x.token)).body.display;
    const path = `/v1/customers/${y.id}`;
    // Both answer with the rate 2 (each has read x since the first change, or hears of it within 1 s).
    expect(Number((await within1s(b, path, x.token, (res) => Number(res.body.display?.balance) === 20)).body.display.balance)).toBe(20);
    await warm(path, x.token);
    for (const instance of [a, b]) expect(await shown(instance)).toMatchObject({ currency: 'USD' });
    expect(Number((await shown(a)).balance)).toBe(20);

    expect((await call(a, 'PUT', '/v1/exchange-rates/EUR', x.token, { rate: '3' })).status).toBe(200);
    expect(Number((await shown(a)).balance)).toBe(30);
    const onB = await within1s(b, path, x.token, (res) => Number(res.body.display?.balance) === 30);
    expect(Number(onB.body.display.balance)).toBe(30);

    // A rate removed: the display's amounts are null (no rate), on A at once and on B within 1 s.
    expect((await call(a, 'DELETE', '/v1/exchange-rates/EUR', x.token)).status).toBe(204);
    expect((await shown(a)).balance).toBeNull();
    expect((await within1s(b, path, x.token, (res) => res.body.display?.balance === null)).body.display.balance).toBeNull();
  });

  it('a dropped listener connection empties the cache and caching resumes only once it listens again', async () => {
    const x = await customer(rootToken);
    // The listener names itself after its process (`canopy-callers-<pid>`).
    const listenerOf = (instance: Instance) => `canopy-callers-${(instance as unknown as { child: { pid: number } }).child.pid}`;
    // A change the triggers do not see (as if its notification were lost): only a re-read notices it.
    const silently = (status: string) =>
      sql(
        `DO $$ BEGIN
           ALTER TABLE customers DISABLE TRIGGER customers_caller_changed;
           UPDATE customers SET status = '${status}' WHERE id = '${x.id}';
           ALTER TABLE customers ENABLE TRIGGER customers_caller_changed;
         END $$`,
      );
    await warm('/v1/me', x.token);
    await silently('suspended');
    // B answers from its cache: the suspension is invisible to it (this is what the notifications are for).
    expect((await call(b, 'GET', '/v1/me', x.token)).status).toBe(200);

    const terminated = await sql(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1`, [listenerOf(b)]);
    expect(terminated).toHaveLength(1);
    // Losing the listener empties B's cache: the next reads see the database.
    expect((await within1s(b, '/v1/me', x.token, (res) => res.status === 401)).status).toBe(401);

    // Once B listens again, it caches again: warmed, it does not see the next silent change.
    const deadline = Date.now() + 15000;
    while ((await sql(`SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND query LIKE 'LISTEN%'`, [listenerOf(b)])).length === 0) {
      if (Date.now() > deadline) throw new Error('the listener did not come back within 15 s');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await silently('active');
    await new Promise((resolve) => setTimeout(resolve, 200)); // the LISTEN reply reaches B
    await warm('/v1/me', x.token);
    await silently('suspended');
    expect((await call(b, 'GET', '/v1/me', x.token)).status).toBe(200);
    // And a change the triggers do see reaches it as before.
    expect((await call(a, 'PATCH', `/v1/customers/${x.id}`, rootToken, { name: 'renamed' })).status).toBe(200);
    expect((await call(a, 'PATCH', `/v1/customers/${x.id}`, rootToken, { status: 'active' })).status).toBe(200);
    expect((await call(a, 'PATCH', `/v1/customers/${x.id}`, rootToken, { status: 'suspended' })).status).toBe(200);
    await expectRefused('/v1/me', x.token, 401);
  });
});

/**
 * The instance that made a change must not wait for its own NOTIFY (it arrives asynchronously):
 * here it never hears it at all, and still refuses the very next request, because the write
 * path evicts after its commit what the triggers listed in the transaction.
 */
describe('caller cache on the instance that made the change (deaf to its own notifications)', () => {
  let t: TestApp;
  let root: Actor;

  beforeAll(async () => {
    t = await startTestApp();
    root = await loginRootIn(t);
    const listener = (t.app.get(CallerChanges) as unknown as { client?: Client }).client;
    expect(listener).toBeDefined();
    listener!.removeAllListeners('notification');
  });
  afterAll(() => t.close());

  /** A status change the triggers do not see (as if its notification were lost). */
  const silently = (id: string, status: string) =>
    t.dataSource.query(
      `DO $$ BEGIN
         ALTER TABLE customers DISABLE TRIGGER customers_caller_changed;
         UPDATE customers SET status = '${status}' WHERE id = '${id}';
         ALTER TABLE customers ENABLE TRIGGER customers_caller_changed;
       END $$`,
    );

  /** Warmed: a suspension the triggers do not see stays unseen (the cache is in use); then undone. */
  async function warmAndProveCached(actor: Actor, path = '/v1/me'): Promise<void> {
    await actor.get(path).expect(200);
    await silently(actor.id, 'suspended');
    await actor.get(path).expect(200);
    await silently(actor.id, 'active');
  }

  it('refuses the next request after a password change, a suspension (own or an ancestor’s), a deletion, a key revocation', async () => {
    const a = await createCustomer(t, root);
    await warmAndProveCached(a);
    await a.patch('/v1/me', { currentPassword: 'password-123', newPassword: 'password-456' }).expect(200);
    await a.get('/v1/me').expect(401);

    const b = await createCustomer(t, root);
    await warmAndProveCached(b);
    await root.patch(`/v1/customers/${b.id}`, { status: 'suspended' }).expect(200);
    await b.get('/v1/me').expect(401);

    const parent = await createCustomer(t, root);
    const child = await createCustomer(t, parent);
    await warmAndProveCached(child);
    await root.patch(`/v1/customers/${parent.id}`, { status: 'suspended' }).expect(200);
    await child.get('/v1/me').expect(401);

    const c = await createCustomer(t, root);
    await warmAndProveCached(c);
    await root.delete(`/v1/customers/${c.id}`).expect(204);
    await c.get('/v1/me').expect(401);

    const d = await createCustomer(t, root);
    const key = await d.post('/v1/api-keys', { name: 'k' }).expect(201);
    const exchanged = await t.http().post('/v1/auth/token').send({ apiKey: key.body.apiKey }).expect(200);
    const keyed = { ...d, token: exchanged.body.accessToken, get: (url: string) => t.http().get(url).set('Authorization', `Bearer ${exchanged.body.accessToken}`) } as Actor;
    await warmAndProveCached(keyed);
    await d.delete(`/v1/api-keys/${key.body.id}`).expect(204);
    await keyed.get('/v1/me').expect(401);
    await d.get('/v1/me').expect(200);
  });

  it('answers the next request with the new rights and the new exchange-rate table', async () => {
    const x = await createCustomer(t, root);
    const grants = (await root.get(`/v1/customers/${x.id}/permissions`).expect(200)).body.permissions as string[];
    await root.put(`/v1/customers/${x.id}/permissions`, { permissions: [...grants, 'system.read'] }).expect(200);
    await warmAndProveCached(x, '/v1/system/settings');
    await root.put(`/v1/customers/${x.id}/permissions`, { permissions: grants }).expect(200);
    await x.get('/v1/system/settings').expect(403);

    const y = await createCustomer(t, x, { baseCurrency: 'EUR', balance: '10' });
    await x.put('/v1/exchange-rates/EUR', { rate: '2' }).expect(200);
    await warmAndProveCached(x, `/v1/customers/${y.id}`);
    expect(Number((await x.get(`/v1/customers/${y.id}`).expect(200)).body.display.balance)).toBe(20);
    await x.put('/v1/exchange-rates/EUR', { rate: '3' }).expect(200);
    expect(Number((await x.get(`/v1/customers/${y.id}`).expect(200)).body.display.balance)).toBe(30);
  });

  it('triggers: postings and key use announce nothing; one change announces its node; a bulk change announces "everything" once', async () => {
    const runner = t.dataSource.createQueryRunner();
    await runner.connect();
    const changed = async () => (await runner.query(`SELECT current_setting('canopy.callers_changed', true) AS v`))[0].v || null;
    try {
      await runner.startTransaction();
      await runner.query(`UPDATE customers SET credit_limit = credit_limit + 1, low_balance_threshold = NULL, version = version + 1, updated_at = now()`);
      await runner.query(`UPDATE customers SET status = status, permissions = permissions`);
      await runner.query(`UPDATE api_keys SET last_used_at = now()`);
      expect(await changed()).toBeNull();
      await runner.query(`UPDATE customers SET status = 'suspended' WHERE parent_id IS NULL`);
      const [rootRow] = await runner.query(`SELECT node_id FROM customers WHERE parent_id IS NULL`);
      expect(await changed()).toBe(`n:${rootRow.node_id}`);
      await runner.query(
        `INSERT INTO customers (parent_id, path, depth, name, time_zone, language, web_login, web_password_hash, base_currency)
         SELECT r.id, r.path || (900000000 + g) || '/', 1, 'bulk' || g, 'UTC', 'en', 'bulk' || g, 'x', 'USD'
           FROM customers r, generate_series(1, 2000) g WHERE r.parent_id IS NULL`,
      );
      await runner.query(`UPDATE customers SET status = 'suspended' WHERE name LIKE 'bulk%'`);
      expect(await changed()).toBe('*');
    } finally {
      await runner.rollbackTransaction();
      await runner.release();
    }
  });
});
