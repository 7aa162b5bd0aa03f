import { Actor, createCustomer, expectProblem, loginRoot } from './setup/factories';
import { startTestApp, TestApp } from './setup/test-app';

describe('API keys', () => {
  let t: TestApp;
  let root: Actor;
  let child: Actor;

  const exchange = (apiKey: string) => t.http().post('/v1/auth/token').send({ apiKey });
  /** Exchanges a key and returns an actor-like helper for its token. */
  const asKey = async (apiKey: string) => {
    const res = await exchange(apiKey).expect(200);
    const token: string = res.body.accessToken;
    return {
      token,
      refreshToken: res.body.refreshToken as string,
      get: (url: string) => t.http().get(url).set('Authorization', `Bearer ${token}`),
      post: (url: string, body: object = {}) => t.http().post(url).set('Authorization', `Bearer ${token}`).send(body),
      delete: (url: string) => t.http().delete(url).set('Authorization', `Bearer ${token}`),
    };
  };

  beforeAll(async () => {
    t = await startTestApp({ LOGIN_MAX_FAILURES: '100' }) // many deliberate failed exchanges below;
    root = await loginRoot(t);
    child = await createCustomer(t, root);
  });
  afterAll(() => t.close());

  it('shows the secret once, as apiKey, and never again in the list', async () => {
    const created = await child.post('/v1/api-keys', { name: 'billing-sync' }).expect(201);
    expect(created.body).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      name: 'billing-sync',
      prefix: expect.stringMatching(/^cnp_[A-Za-z0-9]{12}$/),
      permissions: null,
      expiresAt: null,
      lastUsedAt: null,
      createdAt: expect.any(String),
      apiKey: expect.stringMatching(/^cnp_[A-Za-z0-9]{12}_[A-Za-z0-9_-]{43}$/),
    });
    expect(created.body.apiKey.startsWith(created.body.prefix + '_')).toBe(true);
    expect(created.headers['cache-control']).toBe('no-store');
    const secret = created.body.apiKey.split('_').slice(2).join('_');

    const list = await child.get('/v1/api-keys').expect(200);
    const listed = list.body.items.find((k: { id: string }) => k.id === created.body.id);
    const { apiKey: _secret, ...withoutSecret } = created.body;
    expect(listed).toEqual(withoutSecret);
    expect(list.text).not.toContain(secret);
    expect(list.body.nextCursor).toBeNull();
  });

  it('lists only the caller’s own keys', async () => {
    const rootKey = await root.post('/v1/api-keys', { name: 'root-key' }).expect(201);
    const list = await child.get('/v1/api-keys').expect(200);
    expect(list.body.items.map((k: { id: string }) => k.id)).not.toContain(rootKey.body.id);
    const notMine = await child.delete(`/v1/api-keys/${rootKey.body.id}`).expect(404);
    expectProblem(notMine, 404);
  });

  it('exchanges a key for tokens that act for its creator', async () => {
    const { apiKey } = (await child.post('/v1/api-keys', { name: 'exchange' }).expect(201)).body;
    const res = await exchange(apiKey).expect(200);
    expect(res.body).toEqual({ accessToken: expect.any(String), tokenType: 'Bearer', expiresIn: 900, refreshToken: expect.any(String) });
    expect(res.headers['cache-control']).toBe('no-store');
    const key = await asKey(apiKey);
    const me = await key.get('/v1/me').expect(200);
    expect(me.body.id).toBe(child.id);
    expect(me.body.permissions).toEqual((await child.get('/v1/me')).body.permissions);
    const listed = (await child.get('/v1/api-keys').expect(200)).body.items.find((k: { name: string }) => k.name === 'exchange');
    expect(listed.lastUsedAt).not.toBeNull();
  });

  it('answers a wrong, malformed or unknown key with the same 401', async () => {
    const { apiKey } = (await child.post('/v1/api-keys', { name: 'wrong' }).expect(201)).body;
    const wrongSecret = apiKey.slice(0, -4) + (apiKey.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    const unknownPrefix = 'cnp_ZZZZZZZZZZZZ_' + apiKey.split('_').slice(2).join('_');
    const bodies = [];
    for (const candidate of [wrongSecret, unknownPrefix, 'garbage', 'cnp_short_secret']) {
      const res = await exchange(candidate).expect(401);
      expectProblem(res, 401);
      bodies.push(res.text);
    }
    expect(new Set(bodies).size).toBe(1);
    expect(JSON.parse(bodies[0]).detail).toBe('The API key is invalid, expired or revoked.');
  });

  it('refreshes key sessions without widening them', async () => {
    const { apiKey } = (await child.post('/v1/api-keys', { name: 'refresh', permissions: ['tariffs.manage'] }).expect(201)).body;
    const key = await asKey(apiKey);
    const rotated = await t.http().post('/v1/auth/refresh').send({ refreshToken: key.refreshToken }).expect(200);
    const me = await t.http().get('/v1/me').set('Authorization', `Bearer ${rotated.body.accessToken}`).expect(200);
    expect(me.body.permissions).toEqual(['tariffs.manage']);
  });

  it('cuts access at once when the key is revoked', async () => {
    const created = (await child.post('/v1/api-keys', { name: 'to-revoke' }).expect(201)).body;
    const key = await asKey(created.apiKey);
    await key.get('/v1/me').expect(200);
    await child.delete(`/v1/api-keys/${created.id}`).expect(204);
    const cut = await key.get('/v1/me').expect(401);
    expectProblem(cut, 401);
    await t.http().post('/v1/auth/refresh').send({ refreshToken: key.refreshToken }).expect(401);
    await exchange(created.apiKey).expect(401);
    const list = await child.get('/v1/api-keys').expect(200);
    expect(list.body.items.map((k: { id: string }) => k.id)).not.toContain(created.id);
    await child.delete(`/v1/api-keys/${created.id}`).expect(404);
    // The creator's own session is untouched.
    await child.get('/v1/me').expect(200);
  });

  it('revokes a key once: of concurrent revocations one answers 204, the others 404, with one audit event', async () => {
    const created = (await child.post('/v1/api-keys', { name: 'raced' }).expect(201)).body;
    const answers = await Promise.all(Array.from({ length: 5 }, () => child.delete(`/v1/api-keys/${created.id}`)));
    expect(answers.map((r) => r.status).sort()).toEqual([204, 404, 404, 404, 404]);
    for (const r of answers.filter((r) => r.status === 404)) expectProblem(r, 404);
    const events = await child.get(`/v1/audit-events?limit=200`).expect(200);
    const revocations = events.body.items.filter((e: { action: string; targetId: string }) => e.action === 'api-key.revoke' && e.targetId === created.id);
    expect(revocations).toHaveLength(1);
  });

  it('records a revocation with the key as it was (never its secret)', async () => {
    const created = (await child.post('/v1/api-keys', { name: 'audited-revoke', permissions: ['tariffs.manage'] }).expect(201)).body;
    await child.delete(`/v1/api-keys/${created.id}`).expect(204);
    const events = await child.get(`/v1/audit-events?limit=200`).expect(200);
    const revoked = events.body.items.find((e: { action: string; targetId: string }) => e.action === 'api-key.revoke' && e.targetId === created.id);
    const { apiKey: _secret, ...record } = created;
    expect(revoked.changes).toEqual({ before: record, after: null });
    expect(JSON.stringify(events.body)).not.toContain(created.apiKey.split('_').slice(2).join('_')); // the secret part whole: it may hold '_'
  });

  it('cuts access once the key has expired', async () => {
    const created = (
      await child.post('/v1/api-keys', { name: 'expiring', expiresAt: new Date(Date.now() + 3_600_000).toISOString() }).expect(201)
    ).body;
    expect(Date.parse(created.expiresAt)).toBeGreaterThan(Date.now());
    const key = await asKey(created.apiKey);
    await t.dataSource.query(`UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE id = $1`, [created.id]);
    await key.get('/v1/me').expect(401);
    await exchange(created.apiKey).expect(401);
  });

  it('refuses an expiry in the past', async () => {
    const res = await child.post('/v1/api-keys', { name: 'past', expiresAt: '2020-01-01T00:00:00Z' }).expect(400);
    expectProblem(res, 400);
    expect(res.body.errors).toEqual([{ pointer: '/expiresAt', detail: 'expiresAt must be in the future' }]);
  });

  it('refuses permissions beyond the creator’s with a 403 naming the right', async () => {
    const res = await child.post('/v1/api-keys', { name: 'too-wide', permissions: ['tariffs.manage', 'system.write'] }).expect(403);
    expectProblem(res, 403);
    expect(res.body).toMatchObject({ type: 'https://canopy.dev/problems/permission-denied', permission: 'system.write' });
    // The root holds every right, so it may.
    await root.post('/v1/api-keys', { name: 'wide', permissions: ['system.write'] }).expect(201);
  });

  it('refuses a permission that does not exist with a 400', async () => {
    const res = await child.post('/v1/api-keys', { name: 'unknown', permissions: ['customers.create', 'everything'] }).expect(400);
    expectProblem(res, 400);
    expect(res.body.errors).toEqual([{ pointer: '/permissions', detail: expect.stringContaining('permission') }]);
  });

  it('limits a key to its permissions', async () => {
    const { apiKey } = (await child.post('/v1/api-keys', { name: 'tariffs-only', permissions: ['tariffs.manage'] }).expect(201)).body;
    const key = await asKey(apiKey);
    const me = await key.get('/v1/me').expect(200);
    expect(me.body.permissions).toEqual(['tariffs.manage']);
    const tariff = await key.post('/v1/tariffs', { name: 'by-key', currency: 'USD' }).expect(201);
    const customer = await key
      .post('/v1/customers', { name: 'by-key', tariffId: tariff.body.id, webLogin: 'by-key-login', webPassword: 'password-123' })
      .expect(403);
    expectProblem(customer, 403);
    expect(customer.body).toMatchObject({
      type: 'https://canopy.dev/problems/permission-denied',
      status: 403,
      permission: 'customers.create',
      detail: 'This action needs the "customers.create" permission.',
    });
    const keyFromKey = await key.post('/v1/api-keys', { name: 'nested' }).expect(403);
    expect(keyFromKey.body.permission).toBe('api-keys.manage');
  });

  it('does not let a restricted key mint a wider one', async () => {
    const { apiKey } = (await child.post('/v1/api-keys', { name: 'minter', permissions: ['api-keys.manage', 'tariffs.manage'] }).expect(201)).body;
    const key = await asKey(apiKey);
    const wider = await key.post('/v1/api-keys', { name: 'wider', permissions: ['customers.create'] }).expect(403);
    expect(wider.body.permission).toBe('customers.create');
    const unspecified = await key.post('/v1/api-keys', { name: 'unspecified' }).expect(201);
    expect(unspecified.body.permissions).toEqual(['tariffs.manage', 'api-keys.manage']);
    const minted = await asKey(unspecified.body.apiKey);
    const me = await minted.get('/v1/me').expect(200);
    expect(me.body.permissions.sort()).toEqual(['api-keys.manage', 'tariffs.manage']);
  });

  it('pages through the keys with limit and cursor', async () => {
    const owner = await createCustomer(t, root);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await owner.post('/v1/api-keys', { name: `k${i}` }).expect(201)).body.id);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res: { body: { items: Array<{ id: string }>; nextCursor: string | null } } = await owner
        .get(`/v1/api-keys?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`)
        .expect(200);
      expect(res.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...res.body.items.map((k) => k.id));
      cursor = res.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual(ids);
  });

  it('answers a forged cursor with a 400 naming the cursor, never a 500', async () => {
    const forged = (values: unknown) => Buffer.from(JSON.stringify(values)).toString('base64url');
    for (const cursor of ['garbage', forged(['x']), forged(['not-a-time', 'not-a-uuid']), forged(['2026-01-01T00:00:00Z', 'nope'])]) {
      const res = await child.get(`/v1/api-keys?cursor=${cursor}`).expect(400);
      expectProblem(res, 400);
      expect(res.body.errors).toEqual([{ parameter: 'cursor', detail: expect.any(String) }]);
    }
  });
});
