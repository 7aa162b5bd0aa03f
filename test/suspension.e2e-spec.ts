import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { HttpResult, Instance, MAIN, loginRoot as loginRootOn, request, startInstances } from '../scripts/chaos-lib';
import { Actor, createCustomer, expectProblem, login, loginRoot } from './setup/factories';
import { startTestApp, TestApp } from './setup/test-app';
import { createTestDatabase, dropTestDatabase, readTestDatabaseInfo } from './setup/test-database';

const UNAUTHORIZED = 'https://canopy.dev/problems/unauthorized';

/** Every credential a customer can hold, all issued before any suspension. */
interface Credentials {
  actor: Actor;
  /** A second password session (its own refresh token, never rotated before the checks). */
  accessToken: string;
  refreshToken: string;
  apiKey: string;
  keyAccessToken: string;
  keyRefreshToken: string;
}

/**
 * SPEC §2 "Suspension cascades": a customer is effectively suspended when it or any ancestor
 * is. Suspending a reseller cuts its whole subtree on the next request, reactivating restores
 * it, and nothing below the suspended customer is written.
 */
describe('suspension cascades', () => {
  let t: TestApp;
  let root: Actor;

  const me = (token: string) => t.http().get('/v1/me').set('Authorization', `Bearer ${token}`);
  const refresh = (refreshToken: string) => t.http().post('/v1/auth/refresh').send({ refreshToken });
  const exchange = (apiKey: string) => t.http().post('/v1/auth/token').send({ apiKey });
  const logIn = (who: Actor) => t.http().post('/v1/auth/login').send({ login: who.login, password: who.password });

  async function credentials(actor: Actor): Promise<Credentials> {
    const session = await logIn(actor).expect(200);
    const apiKey: string = (await actor.post('/v1/api-keys', { name: 'k' }).expect(201)).body.apiKey;
    const exchanged = await exchange(apiKey).expect(200);
    return {
      actor,
      accessToken: session.body.accessToken,
      refreshToken: session.body.refreshToken,
      apiKey,
      keyAccessToken: exchanged.body.accessToken,
      keyRefreshToken: exchanged.body.refreshToken,
    };
  }

  /** root → A → B → C → D, and a sibling subtree root → S → T. */
  async function tree() {
    const a = await createCustomer(t, root);
    const b = await createCustomer(t, a);
    const c = await createCustomer(t, b);
    const d = await createCustomer(t, c);
    const s = await createCustomer(t, root);
    const tt = await createCustomer(t, s);
    return {
      a,
      b: await credentials(b),
      c: await credentials(c),
      d: await credentials(d),
      s: await credentials(s),
      t: await credentials(tt),
    };
  }

  const unauthorized = (instance: string, detail: string) => ({ type: UNAUTHORIZED, title: 'Unauthorized', status: 401, detail, instance });

  /** Every credential refused, each with the problem body the client sees. */
  async function expectRefused(who: Credentials) {
    for (const token of [who.actor.token, who.accessToken, who.keyAccessToken]) {
      const res = await me(token).expect(401);
      expectProblem(res, 401);
      expect(res.body).toEqual(unauthorized('/v1/me', 'Authentication is required and has failed or has not been provided.'));
      expect(res.headers['www-authenticate']).toBe('Bearer realm="canopy"');
    }
    // A call that would write is refused too (before anything happens).
    expectProblem(await who.actor.post('/v1/api-keys', { name: 'while-suspended' }).expect(401), 401);
    for (const token of [who.refreshToken, who.keyRefreshToken]) {
      const res = await refresh(token).expect(401);
      expectProblem(res, 401);
      expect(res.body).toEqual(unauthorized('/v1/auth/refresh', 'The refresh token is invalid, expired or revoked.'));
    }
    const badLogin = await t.http().post('/v1/auth/login').send({ login: who.actor.login, password: 'not-the-password' }).expect(401);
    const loggedIn = await logIn(who.actor).expect(401);
    expectProblem(loggedIn, 401);
    expect(loggedIn.body).toEqual(unauthorized('/v1/auth/login', 'The login or password is incorrect.'));
    // The same answer as a wrong password (and so as a suspended customer's own login).
    expect(loggedIn.text).toBe(badLogin.text);
    const exchanged = await exchange(who.apiKey).expect(401);
    expectProblem(exchanged, 401);
    expect(exchanged.body).toEqual(unauthorized('/v1/auth/token', 'The API key is invalid, expired or revoked.'));
  }

  /** Every credential issued before the suspension works again (the same tokens, not new ones). */
  async function expectWorking(who: Credentials) {
    for (const token of [who.actor.token, who.accessToken, who.keyAccessToken]) {
      expect((await me(token).expect(200)).body.id).toBe(who.actor.id);
    }
    const rotated = await refresh(who.refreshToken).expect(200);
    expect((await me(rotated.body.accessToken).expect(200)).body.id).toBe(who.actor.id);
    const keyRotated = await refresh(who.keyRefreshToken).expect(200);
    expect((await me(keyRotated.body.accessToken).expect(200)).body.id).toBe(who.actor.id);
    await logIn(who.actor).expect(200);
    await exchange(who.apiKey).expect(200);
  }

  /** Only what never rotates a refresh token: the same checks can run again afterwards. */
  async function expectAccess(who: Credentials) {
    for (const token of [who.actor.token, who.accessToken, who.keyAccessToken]) {
      expect((await me(token).expect(200)).body.id).toBe(who.actor.id);
    }
  }

  beforeAll(async () => {
    // Refused logins count per client address (a right password too); this file makes many on purpose.
    t = await startTestApp({ LOGIN_MAX_FAILURES: '1000' });
    root = await loginRoot(t);
  });
  afterAll(() => t.close());

  it('suspending A cuts B, C and D (tokens, refresh, login, keys) on the next request; reactivating restores them', async () => {
    const x = await tree();
    for (const who of [x.b, x.c, x.d]) await expectAccess(who);

    const suspended = await root.patch(`/v1/customers/${x.a.id}`, { status: 'suspended' }).expect(200);
    expect(suspended.body.status).toBe('suspended');

    for (const who of [x.b, x.c, x.d]) await expectRefused(who);
    // The root and the sibling subtree are untouched.
    await root.get('/v1/me').expect(200);
    for (const who of [x.s, x.t]) await expectWorking(who);

    // Reactivation: the very same tokens and keys work again.
    await root.patch(`/v1/customers/${x.a.id}`, { status: 'active' }).expect(200);
    for (const who of [x.b, x.c, x.d]) await expectWorking(who);
  });

  it('suspending C cuts D but not B', async () => {
    const x = await tree();
    await root.patch(`/v1/customers/${x.c.actor.id}`, { status: 'suspended' }).expect(200);
    await expectRefused(x.c);
    await expectRefused(x.d);
    await expectWorking(x.b);
    await x.a.get('/v1/me').expect(200);

    await root.patch(`/v1/customers/${x.c.actor.id}`, { status: 'active' }).expect(200);
    // D, below the suspension, comes back whole. C's own sessions were ended by its suspension
    // (as a password change ends them), but its key and its password work again.
    await expectWorking(x.d);
    await me(x.c.actor.token).expect(401);
    await logIn(x.c.actor).expect(200);
    await exchange(x.c.apiKey).expect(200);
  });

  it('a suspended ancestor is not a suspended customer: status stays the own setting, and those above still manage all of it', async () => {
    const x = await tree();
    const before = await root.get(`/v1/customers/${x.d.actor.id}`).expect(200);
    await root.patch(`/v1/customers/${x.a.id}`, { status: 'suspended' }).expect(200);

    // What the root sees of D is D's own setting, unchanged (nothing below A was written);
    // A, which every viewer of D can also see, says why D is cut.
    const d = await root.get(`/v1/customers/${x.d.actor.id}`).expect(200);
    expect(d.body).toEqual(before.body);
    expect(d.headers.etag).toBe(before.headers.etag);
    expect(d.body.status).toBe('active');
    expect((await root.get(`/v1/customers/${x.a.id}`).expect(200)).body.status).toBe('suspended');

    // The root still operates on the suspended customer and below it.
    const patchedA = await root.patch(`/v1/customers/${x.a.id}`, { creditLimit: '10.00' }).expect(200);
    expect(patchedA.body).toMatchObject({ status: 'suspended', creditLimit: '10.00' });
    await root
      .post(`/v1/customers/${x.a.id}/balance-operations`, { action: 'add_funds', amount: '5.00' })
      .set('Idempotency-Key', randomUUID())
      .expect(201);
    const patchedD = await root.patch(`/v1/customers/${x.d.actor.id}`, { creditLimit: '3.00' }).expect(200);
    expect(patchedD.body).toMatchObject({ status: 'active', creditLimit: '3.00' });
    await root
      .post(`/v1/customers/${x.d.actor.id}/balance-operations`, { action: 'add_funds', amount: '1.00' })
      .set('Idempotency-Key', randomUUID())
      .expect(201);
    // Suspending or reactivating a customer below a suspended one is allowed and changes only its own setting.
    await root.patch(`/v1/customers/${x.c.actor.id}`, { status: 'suspended' }).expect(200);
    await root.patch(`/v1/customers/${x.c.actor.id}`, { status: 'active' }).expect(200);
    await expectRefused(x.d);

    await root.patch(`/v1/customers/${x.a.id}`, { status: 'active' }).expect(200);
    await expectAccess(x.d);
  });

  it('the suspended customer itself is refused, and its parent still operates on it', async () => {
    const x = await tree();
    await x.a.patch(`/v1/customers/${x.b.actor.id}`, { status: 'suspended' }).expect(200);
    await expectRefused(x.b);
    await expectRefused(x.c);
    await x.a
      .post(`/v1/customers/${x.b.actor.id}/balance-operations`, { action: 'add_funds', amount: '2.00' })
      .set('Idempotency-Key', randomUUID())
      .expect(201);
    await x.a.patch(`/v1/customers/${x.b.actor.id}`, { name: 'renamed-while-suspended' }).expect(200);
    await x.a.patch(`/v1/customers/${x.b.actor.id}`, { status: 'active' }).expect(200);
    await expectWorking(x.c);
    await login(t, x.b.actor.login, x.b.actor.password);
  });
});

describe('suspension and the key-exchange limiter', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ LOGIN_MAX_FAILURES: '3' });
  });
  afterAll(() => t.close());

  it('a right key refused for a suspension is no guess: machines retrying through a suspension are not locked out after it', async () => {
    const root = await loginRoot(t);
    const a = await createCustomer(t, root);
    const b = await createCustomer(t, a);
    const apiKey: string = (await b.post('/v1/api-keys', { name: 'machine' }).expect(201)).body.apiKey;
    await root.patch(`/v1/customers/${a.id}`, { status: 'suspended' }).expect(200);
    for (let i = 0; i < 6; i++) {
      const res = await t.http().post('/v1/auth/token').send({ apiKey }).expect(401);
      expect(res.body.detail).toBe('The API key is invalid, expired or revoked.');
    }
    await root.patch(`/v1/customers/${a.id}`, { status: 'active' }).expect(200);
    await t.http().post('/v1/auth/token').send({ apiKey }).expect(200);
    // Wrong secrets still count, suspended owner or not.
    await root.patch(`/v1/customers/${a.id}`, { status: 'suspended' }).expect(200);
    const wrong = apiKey.slice(0, -4) + (apiKey.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    for (let i = 0; i < 3; i++) await t.http().post('/v1/auth/token').send({ apiKey: wrong }).expect(401);
    await t.http().post('/v1/auth/token').send({ apiKey }).expect(429);
  });
});

/** Two built instances on one database: a suspension made on one is obeyed by the other at once. */
describe('suspension across instances', () => {
  const info = readTestDatabaseInfo();
  let dbName: string;
  let a: Instance;
  let b: Instance;
  let rootToken: string;

  const call = (instance: Instance, method: string, path: string, token?: string, body?: object): Promise<HttpResult> =>
    request(instance.url, method, path, { body, headers: token ? { authorization: `Bearer ${token}` } : {} });

  beforeAll(async () => {
    if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npm run build\` first (\`npm test\` builds in pretest).`);
    const db = await createTestDatabase(info);
    dbName = db.name;
    [a, b] = await startInstances(db.url, 2, { LOGIN_MAX_FAILURES: '1000' });
    rootToken = await loginRootOn(a);
  }, 90000);

  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    if (dbName) await dropTestDatabase(info, dbName);
  });

  /** A customer of `parent` created on one instance, logged in on the other. */
  async function customer(parentToken: string) {
    const tariff = await call(a, 'POST', '/v1/tariffs', parentToken, { name: `t-${randomBytes(4).toString('hex')}`, currency: 'USD' });
    expect(tariff.status).toBe(201);
    const webLogin = `l-${randomBytes(4).toString('hex')}`;
    const created = await call(a, 'POST', '/v1/customers', parentToken, {
      name: webLogin,
      tariffId: tariff.body.id,
      webLogin,
      webPassword: 'password-123',
    });
    expect(created.status).toBe(201);
    const session = await call(b, 'POST', '/v1/auth/login', undefined, { login: webLogin, password: 'password-123' });
    expect(session.status).toBe(200);
    return { id: created.body.id as string, webLogin, token: session.body.accessToken as string, refreshToken: session.body.refreshToken as string };
  }

  it('suspending A on instance A refuses its subtree on instance B within 1 s, and reactivating on B restores it on A at once', async () => {
    const ra = await customer(rootToken);
    const rb = await customer(ra.token);
    const rc = await customer(rb.token);
    const apiKey: string = (await call(b, 'POST', '/v1/api-keys', rc.token, { name: 'k' })).body.apiKey;
    const exchanged = await call(a, 'POST', '/v1/auth/token', undefined, { apiKey });
    expect(exchanged.status).toBe(200);
    for (const token of [rb.token, rc.token, exchanged.body.accessToken]) expect((await call(b, 'GET', '/v1/me', token)).status).toBe(200);

    expect((await call(a, 'PATCH', `/v1/customers/${ra.id}`, rootToken, { status: 'suspended' })).status).toBe(200);
    // Another instance may answer from its caller cache until the change reaches it: within 1 s (SPEC §2).
    const deadline = Date.now() + 1000;
    for (const token of [rb.token, rc.token, exchanged.body.accessToken]) {
      let res = await call(b, 'GET', '/v1/me', token);
      while (res.status === 200 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
        res = await call(b, 'GET', '/v1/me', token);
      }
      expect(res.status).toBe(401);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.body).toMatchObject({ status: 401, type: 'https://canopy.dev/problems/unauthorized' });
    }
    for (const refreshToken of [rb.refreshToken, rc.refreshToken, exchanged.body.refreshToken]) {
      expect((await call(b, 'POST', '/v1/auth/refresh', undefined, { refreshToken })).status).toBe(401);
    }
    expect((await call(b, 'POST', '/v1/auth/login', undefined, { login: rc.webLogin, password: 'password-123' })).status).toBe(401);
    expect((await call(b, 'POST', '/v1/auth/token', undefined, { apiKey })).status).toBe(401);
    expect((await call(b, 'GET', '/v1/me', rootToken)).status).toBe(200);

    expect((await call(b, 'PATCH', `/v1/customers/${ra.id}`, rootToken, { status: 'active' })).status).toBe(200);
    for (const token of [rb.token, rc.token, exchanged.body.accessToken]) expect((await call(a, 'GET', '/v1/me', token)).status).toBe(200);
    for (const refreshToken of [rb.refreshToken, rc.refreshToken, exchanged.body.refreshToken]) {
      expect((await call(a, 'POST', '/v1/auth/refresh', undefined, { refreshToken })).status).toBe(200);
    }
    expect((await call(a, 'POST', '/v1/auth/token', undefined, { apiKey })).status).toBe(200);
  });
});
