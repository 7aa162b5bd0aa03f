import { randomUUID } from 'node:crypto';
import { PasswordHasher } from '../src/auth/password-hasher';
import { MetricsServer } from '../src/metrics/metrics-server';
import { DEFAULT_PERMISSIONS } from '../src/permissions/permission.catalogue';
import { freePort } from './setup/free-port';
import { Actor, createCustomer, createTariff, expectProblem, login, loginRoot, uniqueName } from './setup/factories';
import { startTestApp, TestApp } from './setup/test-app';

interface AuditEvent {
  actor: string | null;
  action: string;
  targetType: string;
  targetId: string | null;
  changes: Record<string, Record<string, unknown> | null> | null;
  requestId: string | null;
  clientAddress: string | null;
}

async function auditEvents(actor: Actor, query = ''): Promise<AuditEvent[]> {
  const res = await actor.get(`/v1/audit-events?limit=200${query}`).expect(200);
  return res.body.items;
}

/** Grants `customer` the default set without `drop`, plus `extra` (as its parent). */
async function setGrants(parent: Actor, customer: Actor, drop: string[], extra: string[] = []): Promise<void> {
  const permissions = [...DEFAULT_PERMISSIONS.filter((p) => !drop.includes(p)), ...extra];
  await parent.put(`/v1/customers/${customer.id}/permissions`, { permissions }).expect(200);
}

describe('secrets and masks: audit events', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('hide the request id and client address of an actor above the viewer, as the actor is hidden', async () => {
    const root = await loginRoot(t);
    const a = await createCustomer(t, root);
    const c = await createCustomer(t, a);
    await root.patch(`/v1/customers/${a.id}`, { creditLimit: '7' }).set('X-Request-Id', 'root-request-1').expect(200);
    await a.patch(`/v1/customers/${c.id}`, { creditLimit: '3' }).set('X-Request-Id', 'a-request-1').expect(200);

    const seenByA = await auditEvents(a, `&targetType=customer`);
    const byRoot = seenByA.find((e) => e.action === 'customer.update' && e.targetId === a.id)!;
    expect(byRoot).toMatchObject({ actor: null, requestId: null, clientAddress: null });
    const own = seenByA.find((e) => e.action === 'customer.update' && e.targetId === c.id)!;
    expect(own.actor).toBe(a.id);
    expect(own.requestId).toBe('a-request-1');
    expect(typeof own.clientAddress).toBe('string');
    expect(JSON.stringify(seenByA)).not.toContain('root-request-1');

    // The root sees its own event in full.
    const seenByRoot = await auditEvents(root, `&targetType=customer&targetId=${a.id}`);
    const full = seenByRoot.find((e) => e.action === 'customer.update')!;
    expect(full.actor).toBe(root.id);
    expect(full.requestId).toBe('root-request-1');
    expect(typeof full.clientAddress).toBe('string');
  });
});

describe('secrets and masks: PATCH /v1/me', () => {
  let t: TestApp;
  let root: Actor;
  const keySession = async (owner: Actor) => {
    const key = await owner.post('/v1/api-keys', { name: uniqueName('key') }).expect(201);
    const exchanged = await t.http().post('/v1/auth/token').send({ apiKey: key.body.apiKey }).expect(200);
    return exchanged.body as { accessToken: string; refreshToken: string };
  };
  // TRUST_PROXY: X-Forwarded-For tells client addresses apart (the limiter also counts per address).
  const from = <R extends { set(k: string, v: string): R }>(address: string, req: R): R => req.set('X-Forwarded-For', address);
  const patchMe = (token: string, body: object) => t.http().patch('/v1/me').set('Authorization', `Bearer ${token}`).send(body);

  beforeAll(async () => {
    t = await startTestApp({ LOGIN_MAX_FAILURES: '3', TRUST_PROXY: 'true' });
    root = await loginRoot(t);
  });
  afterAll(() => t.close());

  it('refuses a password change from an API-key session with 403, also after a refresh', async () => {
    const child = await createCustomer(t, root);
    const session = await keySession(child);
    const res = await patchMe(session.accessToken, { currentPassword: child.password, newPassword: 'new-password-1' }).expect(403);
    expectProblem(res, 403);
    expect(res.body.type).toBe('https://canopy.dev/problems/password-session-required');
    // Even a wrong guess learns nothing.
    await patchMe(session.accessToken, { currentPassword: 'wrong-password', newPassword: 'new-password-1' }).expect(403);
    const rotated = await t.http().post('/v1/auth/refresh').send({ refreshToken: session.refreshToken }).expect(200);
    await patchMe(rotated.body.accessToken, { currentPassword: child.password, newPassword: 'new-password-1' }).expect(403);
    // The password did not change; the key session may still set time zone and language.
    await login(t, child.login, child.password);
    const tz = await patchMe(rotated.body.accessToken, { timeZone: 'Europe/Paris' }).expect(200);
    expect(tz.body.timeZone).toBe('Europe/Paris');
  });

  it('counts wrong current passwords against the login limiter: 429 with Retry-After', async () => {
    const child = await createCustomer(t, root);
    // From three addresses: the login's count is what runs out.
    for (let i = 1; i <= 3; i++) {
      const wrong = await from(`10.9.0.${i}`, child.patch('/v1/me', { currentPassword: `wrong-${i}-password`, newPassword: 'new-password-1' })).expect(400);
      expect(wrong.body.errors).toEqual([{ pointer: '/currentPassword', detail: 'currentPassword is incorrect' }]);
    }
    // Even the right password is refused now, and so is a login with it.
    const limited = await from('10.9.0.4', child.patch('/v1/me', { currentPassword: child.password, newPassword: 'new-password-1' })).expect(429);
    expectProblem(limited, 429);
    expect(limited.body.type).toBe('https://canopy.dev/problems/too-many-login-attempts');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    await from('10.9.0.5', t.http().post('/v1/auth/login').send({ login: child.login, password: child.password })).expect(429);
    // Nothing changed: the session still works.
    await child.get('/v1/me').expect(200);
  });

  it('a right current password forgets earlier wrong guesses', async () => {
    const child = await createCustomer(t, root);
    const patch = (address: string, currentPassword: string, newPassword: string, actor: Actor = child) =>
      from(address, actor.patch('/v1/me', { currentPassword, newPassword }));
    await patch('10.9.1.1', 'wrong-password', 'new-password-1').expect(400);
    await patch('10.9.1.2', 'wrong-password', 'new-password-1').expect(400);
    await patch('10.9.1.3', child.password, 'new-password-1').expect(200);
    const again = await login(t, child.login, 'new-password-1');
    await patch('10.9.1.4', 'wrong-password', 'new-password-2', again).expect(400);
    await patch('10.9.1.5', 'wrong-password', 'new-password-2', again).expect(400);
    await patch('10.9.1.6', 'new-password-1', 'new-password-2', again).expect(200);
  });

  it('writes an audit event for every change, with the password masked', async () => {
    const child = await createCustomer(t, root);
    await child.patch('/v1/me', { timeZone: 'Asia/Tokyo', language: 'de' }).set('X-Request-Id', 'me-request-1').expect(200);
    await child.patch('/v1/me', { currentPassword: child.password, newPassword: 'secret-new-password' }).expect(200);
    const self = await login(t, child.login, 'secret-new-password');
    const events = (await auditEvents(self, `&targetId=${child.id}`)).filter((e) => e.action === 'me.update');
    expect(events).toHaveLength(2);
    const [password, settings] = events; // newest first
    expect(settings).toMatchObject({ actor: child.id, targetType: 'customer', targetId: child.id, requestId: 'me-request-1' });
    expect(settings.changes!.before).toMatchObject({ timeZone: 'UTC', language: 'en' });
    expect(settings.changes!.after).toMatchObject({ timeZone: 'Asia/Tokyo', language: 'de' });
    expect(password.changes!.after!.webPassword).toBe('***');
    const text = JSON.stringify(await auditEvents(root));
    expect(text).not.toContain('secret-new-password');
    expect(text).not.toContain(child.password);
    expect(text).not.toContain('$argon2');
  });
});

describe('secrets and masks: opening balances need balances.operate', () => {
  let t: TestApp;
  let root: Actor;
  let a: Actor;
  let tariffId: string;
  beforeAll(async () => {
    t = await startTestApp();
    root = await loginRoot(t);
    a = await createCustomer(t, root);
    await setGrants(root, a, ['balances.operate']);
    tariffId = await createTariff(a);
  });
  afterAll(() => t.close());

  it('POST /v1/customers with a balance is a 403 naming balances.operate, and creates nothing', async () => {
    const webLogin = uniqueName('login');
    const res = await a
      .post('/v1/customers', { name: uniqueName('n'), tariffId, webLogin, webPassword: 'password-123', balance: '10' })
      .expect(403);
    expectProblem(res, 403);
    expect(res.body.permission).toBe('balances.operate');
    expect((await a.get('/v1/customers').expect(200)).body.items).toEqual([]);
    // Without a balance (or with a zero one, which writes no ledger entry) it is allowed.
    await a.post('/v1/customers', { name: uniqueName('n'), tariffId, webLogin, webPassword: 'password-123' }).expect(201);
    await a.post('/v1/customers', { name: uniqueName('n'), tariffId, webLogin: uniqueName('l'), webPassword: 'password-123', balance: '0' }).expect(201);
  });

  it('POST /v1/accounts with a balance is a 403 naming balances.operate, and creates nothing', async () => {
    const username = uniqueName('sip');
    const body = { username, webPassword: 'password-123', voipPassword: 'voip-secret', tariffId };
    const res = await a.post('/v1/accounts', { ...body, balance: '10' }).expect(403);
    expectProblem(res, 403);
    expect(res.body.permission).toBe('balances.operate');
    expect((await a.get('/v1/accounts').expect(200)).body.items).toEqual([]);
    await a.post('/v1/accounts', body).expect(201);
  });

  it('a holder of balances.operate may still give an opening balance', async () => {
    const c = await createCustomer(t, root, { balance: '4' });
    expect(Number((await root.get(`/v1/customers/${c.id}`).expect(200)).body.balance)).toBe(4);
  });
});

describe('secrets and masks: the default permission set', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('cannot be given a right the caller does not hold (403 naming it), and stays as it was', async () => {
    const root = await loginRoot(t);
    const a = await createCustomer(t, root);
    await setGrants(root, a, ['tariffs.manage'], ['system.read', 'system.write']);
    const before = (await a.get('/v1/system/settings').expect(200)).body;
    const res = await a.patch('/v1/system/settings', { defaultPermissions: ['customers.create', 'tariffs.manage'] }).expect(403);
    expectProblem(res, 403);
    expect(res.body.permission).toBe('tariffs.manage');
    const after = (await a.get('/v1/system/settings').expect(200)).body;
    expect(after.version).toBe(before.version);
    expect(after.defaultPermissions).toEqual(before.defaultPermissions);
    // Within its own rights it may set the set (system.write included: it holds it).
    const ok = await a.patch('/v1/system/settings', { defaultPermissions: ['customers.create', 'system.read'] }).expect(200);
    expect(ok.body.defaultPermissions).toEqual(['customers.create', 'system.read']);
    // The root holds everything.
    await root.patch('/v1/system/settings', { defaultPermissions: DEFAULT_PERMISSIONS }).expect(200);
  });
});

describe('secrets and masks: password hashing comes after the cheap checks', () => {
  let t: TestApp;
  let root: Actor, a: Actor, b: Actor, weak: Actor;
  let hash: jest.SpyInstance;
  let verify: jest.SpyInstance;
  let tariffOfA: string;
  let tariffOfWeak: string;
  let accountOfB: string;
  let accountOfWeak: string;
  let childOfWeak: string;

  beforeAll(async () => {
    t = await startTestApp();
    root = await loginRoot(t);
    a = await createCustomer(t, root);
    b = await createCustomer(t, root);
    weak = await createCustomer(t, root);
    await setGrants(root, weak, ['customers.create', 'customers.update', 'accounts.create', 'accounts.update']);
    tariffOfA = await createTariff(root);
    const account = await b.post('/v1/accounts', { username: uniqueName('sip'), webPassword: 'password-123', voipPassword: 'voip-secret', tariffId: await createTariff(b) }).expect(201);
    accountOfB = account.body.id;
    // weak keeps tariffs.manage; its child and account are made by the root.
    tariffOfWeak = await createTariff(weak);
    childOfWeak = (await root.post('/v1/customers', { ...customerBody(), tariffId: tariffOfWeak, parentId: weak.id }).expect(201)).body.id;
    accountOfWeak = (await root.post('/v1/accounts', { ...accountBody(), tariffId: tariffOfWeak, customerId: weak.id }).expect(201)).body.id;
    const hasher = t.app.get(PasswordHasher);
    hash = jest.spyOn(hasher, 'hash');
    verify = jest.spyOn(hasher, 'verify');
  });
  afterAll(() => t.close());
  beforeEach(() => {
    hash.mockClear();
    verify.mockClear();
  });

  const customerBody = () => ({ name: uniqueName('n'), tariffId: tariffOfA, webLogin: uniqueName('l'), webPassword: 'password-123' });
  const accountBody = () => ({ username: uniqueName('sip'), webPassword: 'password-123', voipPassword: 'voip-secret', tariffId: tariffOfA });

  it('the spy sees the hashing of a request that passes the checks', async () => {
    await root.post('/v1/customers', customerBody()).expect(201);
    expect(hash).toHaveBeenCalledTimes(1);
  });

  it('POST /v1/customers under an invisible parent (404) or without customers.create (403) hashes nothing', async () => {
    await a.post('/v1/customers', { ...customerBody(), parentId: b.id }).expect(404);
    await a.post('/v1/customers', { ...customerBody(), parentId: randomUUID() }).expect(404);
    expectProblem(await weak.post('/v1/customers', customerBody()).expect(403), 403);
    expect(hash).not.toHaveBeenCalled();
  });

  it('PATCH /v1/customers/{id} with a password on an invisible id (404) or without customers.update (403) hashes nothing', async () => {
    await a.patch(`/v1/customers/${b.id}`, { webPassword: 'password-456' }).expect(404);
    await a.patch(`/v1/customers/${root.id}`, { webPassword: 'password-456' }).expect(404);
    await a.patch(`/v1/customers/${randomUUID()}`, { webPassword: 'password-456' }).expect(404);
    const res = await weak.patch(`/v1/customers/${childOfWeak}`, { webPassword: 'password-456' }).expect(403);
    expect(res.body.permission).toBe('customers.update');
    expect(hash).not.toHaveBeenCalled();
  });

  it('POST /v1/accounts for an invisible customer (404) or without accounts.create (403) hashes nothing', async () => {
    await a.post('/v1/accounts', { ...accountBody(), customerId: b.id }).expect(404);
    const res = await weak.post('/v1/accounts', { ...accountBody(), tariffId: tariffOfWeak }).expect(403);
    expect(res.body.permission).toBe('accounts.create');
    expect(hash).not.toHaveBeenCalled();
  });

  it('PATCH /v1/accounts/{id} with a password on an invisible account (404) or without accounts.update (403) hashes nothing', async () => {
    await a.patch(`/v1/accounts/${accountOfB}`, { webPassword: 'password-456' }).expect(404);
    await a.patch(`/v1/accounts/${randomUUID()}`, { webPassword: 'password-456' }).expect(404);
    const res = await weak.patch(`/v1/accounts/${accountOfWeak}`, { webPassword: 'password-456' }).expect(403);
    expect(res.body.permission).toBe('accounts.update');
    expect(hash).not.toHaveBeenCalled();
  });

  it('PATCH /v1/me from an API-key session checks and hashes no password', async () => {
    const key = await a.post('/v1/api-keys', { name: uniqueName('k') }).expect(201);
    const exchanged = await t.http().post('/v1/auth/token').send({ apiKey: key.body.apiKey }).expect(200);
    verify.mockClear();
    hash.mockClear();
    await t
      .http()
      .patch('/v1/me')
      .set('Authorization', `Bearer ${exchanged.body.accessToken}`)
      .send({ currentPassword: a.password, newPassword: 'password-789' })
      .expect(403);
    expect(verify).not.toHaveBeenCalled();
    expect(hash).not.toHaveBeenCalled();
  });
});

describe('secrets and masks: /metrics', () => {
  it('is not served publicly when neither METRICS_TOKEN nor METRICS_PORT is set', async () => {
    const t = await startTestApp();
    try {
      const res = await t.http().get('/metrics');
      expect([401, 404]).toContain(res.status);
      expectProblem(res, res.status);
      expect(res.text).not.toContain('canopy_http_requests_total');
    } finally {
      await t.close();
    }
  });

  it('is served on METRICS_PORT, bound to 127.0.0.1, and not on the API port', async () => {
    const port = await freePort();
    const t = await startTestApp({ METRICS_PORT: String(port) });
    try {
      await t.http().get('/v1/currencies').expect(200);
      // Loopback only.
      expect(t.app.get(MetricsServer).address()).toMatchObject({ address: '127.0.0.1', port });
      const res = await fetch(`http://127.0.0.1:${port}/metrics`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
      expect(await res.text()).toContain('canopy_http_requests_total');
      const api = await t.http().get('/metrics');
      expect(api.status).toBe(404);
      expect(api.text).not.toContain('canopy_http_requests_total');
    } finally {
      await t.close();
    }
    // Closed with the app.
    await expect(fetch(`http://127.0.0.1:${port}/metrics`)).rejects.toThrow();
  });
});
