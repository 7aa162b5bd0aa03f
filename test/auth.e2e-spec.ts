import jwt from 'jsonwebtoken';
import { createHash } from 'node:crypto';
import { Actor, createCustomer, expectProblem, login, loginRoot, ROOT } from './setup/factories';
import { startTestApp, TestApp } from './setup/test-app';

const UNAUTHORIZED = 'https://canopy.dev/problems/unauthorized';
const base64url = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('access tokens', () => {
  let t: TestApp;
  let root: Actor;

  /** A token signed like the server's own, with whatever the test changes. */
  const forge = (payload: object = {}, options: jwt.SignOptions = {}, secret = t.config.JWT_SECRET!) => {
    const merged: jwt.SignOptions = {
      algorithm: 'HS256',
      subject: root.id,
      issuer: t.config.JWT_ISSUER,
      audience: t.config.JWT_AUDIENCE,
      expiresIn: 60,
      ...options,
    };
    // An option given as undefined means "leave the claim out" (jsonwebtoken rejects undefined values).
    for (const key of Object.keys(merged) as Array<keyof jwt.SignOptions>) if (merged[key] === undefined) delete merged[key];
    return jwt.sign({ ver: 1, ...payload }, secret, merged);
  };
  const me = (authorization?: string) => {
    const req = t.http().get('/v1/me');
    return authorization === undefined ? req : req.set('Authorization', authorization);
  };

  beforeAll(async () => {
    t = await startTestApp();
    root = await loginRoot(t);
  });
  afterAll(() => t.close());

  it('accepts a well-formed token (the control for every attack below)', async () => {
    const res = await me(`Bearer ${forge()}`).expect(200);
    expect(res.body.id).toBe(root.id);
  });

  it('issues what it accepts: HS256, iss, aud, sub, exp 15 minutes ahead, ver', async () => {
    const claims = jwt.verify(root.token, t.config.JWT_SECRET!, {
      algorithms: ['HS256'],
      issuer: t.config.JWT_ISSUER,
      audience: t.config.JWT_AUDIENCE,
    }) as jwt.JwtPayload;
    expect(claims.sub).toBe(root.id);
    expect(claims.exp! - claims.iat!).toBe(900);
    expect(typeof claims.ver).toBe('number');
    expect(jwt.decode(root.token, { complete: true })!.header.alg).toBe('HS256');
  });

  const attacks: Array<[string, () => string | undefined]> = [
    ['no Authorization header', () => undefined],
    ['an empty bearer', () => 'Bearer '],
    ['garbage', () => 'Bearer not-a-token'],
    ['three garbage segments', () => 'Bearer aaa.bbb.ccc'],
    ['another scheme', () => `Basic ${Buffer.from('root:root-password').toString('base64')}`],
    ['the token without the Bearer scheme', () => forge()],
    [
      'alg: none',
      () => {
        const payload = jwt.decode(forge()) as object;
        return `Bearer ${base64url({ alg: 'none', typ: 'JWT' })}.${base64url(payload)}.`;
      },
    ],
    ['a wrong signature', () => `Bearer ${forge({}, {}, 'another-secret-another-secret-another-secret')}`],
    [
      'a tampered payload',
      () => {
        const [header, , signature] = forge().split('.');
        return `Bearer ${header}.${base64url({ ...(jwt.decode(forge()) as object), ver: 2 })}.${signature}`;
      },
    ],
    ['another algorithm with the same secret (HS512)', () => `Bearer ${forge({}, { algorithm: 'HS512' })}`],
    ['an expired token', () => `Bearer ${forge({ exp: Math.floor(Date.now() / 1000) - 10 }, { expiresIn: undefined })}`],
    ['a token with no exp', () => `Bearer ${forge({}, { expiresIn: undefined })}`],
    ['a token not valid yet', () => `Bearer ${forge({}, { notBefore: 600 })}`],
    ['a wrong aud', () => `Bearer ${forge({}, { audience: 'someone-else' })}`],
    ['a wrong iss', () => `Bearer ${forge({}, { issuer: 'someone-else' })}`],
    ['no sub', () => `Bearer ${forge({}, { subject: undefined })}`],
    ['a sub that is no customer', () => `Bearer ${forge({}, { subject: '00000000-0000-4000-8000-000000000000' })}`],
    ['a sub that is not a UUID', () => `Bearer ${forge({}, { subject: 'root' })}`],
    ['a stale ver', () => `Bearer ${forge({ ver: 0 })}`],
    ['a ver that is not a number', () => `Bearer ${forge({ ver: '1' })}`],
    ['a kid that is no API key', () => `Bearer ${forge({ kid: '00000000-0000-4000-8000-000000000000' })}`],
  ];

  it.each(attacks)('answers %s with the same 401 problem', async (_name, authorization) => {
    const res = await me(authorization()).expect(401);
    expectProblem(res, 401);
    expect(res.body).toEqual({
      type: UNAUTHORIZED,
      title: 'Unauthorized',
      status: 401,
      detail: 'Authentication is required and has failed or has not been provided.',
      instance: '/v1/me',
    });
  });

  it('guards every non-public route by default', async () => {
    for (const [method, url] of [
      ['get', '/v1/customers'],
      ['post', '/v1/customers'],
      ['get', '/v1/tariffs'],
      ['get', '/v1/api-keys'],
      ['post', '/v1/auth/logout'],
      ['patch', '/v1/me'],
      ['delete', '/v1/customers/00000000-0000-4000-8000-000000000000'],
    ] as const) {
      const res = await t.http()[method](url).expect(401);
      expectProblem(res, 401);
    }
  });
});

describe('login', () => {
  let t: TestApp;
  let root: Actor;

  beforeAll(async () => {
    t = await startTestApp();
    root = await loginRoot(t);
  });
  afterAll(() => t.close());

  it('answers a token pair', async () => {
    const res = await t.http().post('/v1/auth/login').send(ROOT).expect(200);
    expect(res.body).toEqual({
      accessToken: expect.any(String),
      tokenType: 'Bearer',
      expiresIn: 900,
      refreshToken: expect.stringMatching(/^rt_/),
    });
    expect(res.headers['cache-control']).toBe('no-store'); // credentials are never cached (RFC 6749 §5.1)
  });

  it('takes the login case-insensitively', async () => {
    await t.http().post('/v1/auth/login').send({ login: 'ROOT', password: ROOT.password }).expect(200);
  });

  it('answers a wrong password, an unknown login and a suspended customer with byte-identical 401s', async () => {
    const child = await createCustomer(t, root);
    await root.patch(`/v1/customers/${child.id}`, { status: 'suspended' }).expect(200);
    const wrongPassword = await t.http().post('/v1/auth/login').send({ login: 'root', password: 'wrong-password' }).expect(401);
    const unknownLogin = await t.http().post('/v1/auth/login').send({ login: 'nobody-here', password: 'wrong-password' }).expect(401);
    const suspended = await t.http().post('/v1/auth/login').send({ login: child.login, password: child.password }).expect(401);
    expectProblem(wrongPassword, 401);
    expect(wrongPassword.body).toEqual({
      type: UNAUTHORIZED,
      title: 'Unauthorized',
      status: 401,
      detail: 'The login or password is incorrect.',
      instance: '/v1/auth/login',
    });
    expect(unknownLogin.text).toBe(wrongPassword.text);
    expect(suspended.text).toBe(wrongPassword.text);
    expect(unknownLogin.headers['content-type']).toBe(wrongPassword.headers['content-type']);
  });
});

describe('refresh tokens', () => {
  let t: TestApp;
  let root: Actor;
  const refresh = (refreshToken: string) => t.http().post('/v1/auth/refresh').send({ refreshToken });

  beforeAll(async () => {
    t = await startTestApp();
    root = await loginRoot(t);
  });
  afterAll(() => t.close());

  it('rotates: a new pair whose access token works; the old refresh token stops working', async () => {
    const session = await loginRoot(t);
    const rotated = await refresh(session.refreshToken).expect(200);
    expect(rotated.body).toEqual({
      accessToken: expect.any(String),
      tokenType: 'Bearer',
      expiresIn: 900,
      refreshToken: expect.stringMatching(/^rt_/),
    });
    expect(rotated.body.refreshToken).not.toBe(session.refreshToken);
    expect(rotated.headers['cache-control']).toBe('no-store');
    const me = await t.http().get('/v1/me').set('Authorization', `Bearer ${rotated.body.accessToken}`).expect(200);
    expect(me.body.id).toBe(root.id);
    const reused = await refresh(session.refreshToken).expect(401);
    expectProblem(reused, 401);
    expect(reused.body.detail).toBe('The refresh token is invalid, expired or revoked.');
  });

  it('revokes the whole chain when a rotated token is presented again', async () => {
    const session = await loginRoot(t);
    const other = await loginRoot(t);
    const second = (await refresh(session.refreshToken).expect(200)).body.refreshToken;
    const third = (await refresh(second).expect(200)).body.refreshToken;
    await refresh(session.refreshToken).expect(401); // the thief (or the victim) replays a rotated token
    await refresh(third).expect(401); // the newest token of the chain is dead too
    await refresh(other.refreshToken).expect(200); // another session's chain is not touched
  });

  it('answers an expired refresh token with 401', async () => {
    const session = await loginRoot(t);
    const tokenHash = createHash('sha256').update(session.refreshToken).digest('hex');
    const [, updated] = await t.dataSource.query(
      `UPDATE refresh_tokens SET expires_at = now() - interval '1 second' WHERE token_hash = $1`,
      [tokenHash],
    );
    expect(updated).toBe(1);
    const res = await refresh(session.refreshToken).expect(401);
    expectProblem(res, 401);
  });

  it('answers garbage and unknown tokens with 401', async () => {
    for (const token of ['garbage', 'rt_' + 'A'.repeat(43)]) {
      const res = await refresh(token).expect(401);
      expectProblem(res, 401);
    }
  });

  it('logout with a refresh token revokes that chain only', async () => {
    const session = await loginRoot(t);
    const other = await loginRoot(t);
    await session.post('/v1/auth/logout', { refreshToken: session.refreshToken }).expect(204);
    await refresh(session.refreshToken).expect(401);
    await refresh(other.refreshToken).expect(200);
  });

  it('logout cannot revoke another customer’s chain', async () => {
    const child = await createCustomer(t, root);
    const session = await loginRoot(t);
    await child.post('/v1/auth/logout', { refreshToken: session.refreshToken }).expect(204);
    await refresh(session.refreshToken).expect(200);
  });

  it('logout without a body revokes every refresh token of the caller', async () => {
    const child = await createCustomer(t, root);
    const first = await login(t, child.login, child.password);
    const second = await login(t, child.login, child.password);
    await child.post('/v1/auth/logout').expect(204);
    await refresh(first.refreshToken).expect(401);
    await refresh(second.refreshToken).expect(401);
    await refresh(child.refreshToken).expect(401);
  });

  it('logout with no request body at all is a 204 too', async () => {
    const child = await createCustomer(t, root);
    await t.http().post('/v1/auth/logout').set('Authorization', `Bearer ${child.token}`).expect(204);
    await refresh(child.refreshToken).expect(401);
  });
});

describe('login rate limit', () => {
  let t: TestApp;
  // The limit is per login and per client address; X-Forwarded-For (trusted here) tells them apart.
  const attempt = (address: string, loginName: string, password: string) =>
    t.http().post('/v1/auth/login').set('X-Forwarded-For', address).send({ login: loginName, password });

  beforeAll(async () => {
    t = await startTestApp({ LOGIN_MAX_FAILURES: '3', TRUST_PROXY: 'true' });
  });
  afterAll(() => t.close());

  it('answers 429 with Retry-After once a login has failed LOGIN_MAX_FAILURES times, even with the right password', async () => {
    const root = await loginRoot(t);
    const child = await createCustomer(t, root);
    for (const address of ['10.0.0.1', '10.0.0.2', '10.0.0.3']) await attempt(address, child.login, 'wrong-password').expect(401);
    const res = await attempt('10.0.0.4', child.login.toUpperCase(), child.password).expect(429);
    expectProblem(res, 429);
    expect(res.body).toMatchObject({
      type: 'https://canopy.dev/problems/too-many-login-attempts',
      title: 'Too many login attempts',
      status: 429,
    });
    const retryAfter = Number(res.headers['retry-after']);
    expect(Number.isInteger(retryAfter)).toBe(true);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(t.config.LOGIN_FAILURE_WINDOW_SECONDS);
    expect(res.body.detail).toContain(String(retryAfter));
    expect(res.body).not.toHaveProperty('retryAfterSeconds');
    // Another login from the same address is not affected.
    await attempt('10.0.0.4', 'root', 'root-password').expect(200);
  });

  it('answers 429 once an address has failed LOGIN_MAX_FAILURES times, whatever the login', async () => {
    for (const name of ['ghost-1', 'ghost-2', 'ghost-3']) await attempt('10.0.1.1', name, 'wrong-password').expect(401);
    const res = await attempt('10.0.1.1', 'root', 'root-password').expect(429);
    expectProblem(res, 429);
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    await attempt('10.0.1.2', 'root', 'root-password').expect(200);
  });

  it('holds under concurrent attempts: no more than LOGIN_MAX_FAILURES guesses get through', async () => {
    const root = await loginRoot(t);
    const child = await createCustomer(t, root);
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) => attempt(`10.0.3.${i + 1}`, child.login, `wrong-password-${i}`)),
    );
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(3);
    expect(statuses.filter((s) => s !== 401 && s !== 429)).toEqual([]);
    await attempt('10.0.3.100', child.login, child.password).expect(429);
  });

  it('forgets a login’s failures after a successful login', async () => {
    const root = await loginRoot(t);
    const child = await createCustomer(t, root);
    await attempt('10.0.2.1', child.login, 'wrong-password').expect(401);
    await attempt('10.0.2.2', child.login, 'wrong-password').expect(401);
    await attempt('10.0.2.3', child.login, child.password).expect(200);
    await attempt('10.0.2.4', child.login, 'wrong-password').expect(401);
    await attempt('10.0.2.5', child.login, 'wrong-password').expect(401);
    await attempt('10.0.2.6', child.login, child.password).expect(200);
  });
});

describe('access is cut on the next request', () => {
  let t: TestApp;
  let root: Actor;
  const refresh = (refreshToken: string) => t.http().post('/v1/auth/refresh').send({ refreshToken });
  const expectCut = async (actor: Actor) => {
    const res = await actor.get('/v1/me').expect(401);
    expectProblem(res, 401);
    await refresh(actor.refreshToken).expect(401);
  };

  beforeAll(async () => {
    t = await startTestApp();
    root = await loginRoot(t);
  });
  afterAll(() => t.close());

  it('PATCH /v1/me with a new password needs the current one', async () => {
    const child = await createCustomer(t, root);
    const missing = await child.patch('/v1/me', { newPassword: 'new-password-1' }).expect(400);
    expectProblem(missing, 400);
    expect(missing.body.errors).toEqual([{ pointer: '/currentPassword', detail: expect.stringContaining('currentPassword') }]);
    const wrong = await child.patch('/v1/me', { currentPassword: 'not-the-password', newPassword: 'new-password-1' }).expect(400);
    expectProblem(wrong, 400);
    expect(wrong.body.errors).toEqual([{ pointer: '/currentPassword', detail: 'currentPassword is incorrect' }]);
    const alone = await child.patch('/v1/me', { currentPassword: child.password }).expect(400);
    expect(alone.body.errors).toEqual([{ pointer: '/newPassword', detail: expect.any(String) }]);
    const short = await child.patch('/v1/me', { currentPassword: child.password, newPassword: 'short' }).expect(400);
    expect(short.body.errors[0].pointer).toBe('/newPassword');
    // Nothing changed: the session still works.
    await child.get('/v1/me').expect(200);
  });

  it('after a password change through PATCH /v1/me', async () => {
    const child = await createCustomer(t, root);
    const other = await login(t, child.login, child.password);
    const res = await child.patch('/v1/me', { currentPassword: child.password, newPassword: 'new-password-1' }).expect(200);
    expect(res.body.id).toBe(child.id);
    await expectCut(child);
    await expectCut(other);
    await t.http().post('/v1/auth/login').send({ login: child.login, password: child.password }).expect(401);
    const again = await login(t, child.login, 'new-password-1');
    await again.get('/v1/me').expect(200);
  });

  it('but not after a change of time zone or language', async () => {
    const child = await createCustomer(t, root);
    const res = await child.patch('/v1/me', { timeZone: 'Europe/Paris', language: 'fr' }).expect(200);
    expect(res.body).toMatchObject({ timeZone: 'Europe/Paris', language: 'fr', parentId: null });
    await child.get('/v1/me').expect(200);
    await refresh(child.refreshToken).expect(200);
  });

  it('after the parent changes the web password', async () => {
    const child = await createCustomer(t, root);
    await root.patch(`/v1/customers/${child.id}`, { webPassword: 'set-by-parent-1' }).expect(200);
    await expectCut(child);
    await t.http().post('/v1/auth/login').send({ login: child.login, password: child.password }).expect(401);
    await login(t, child.login, 'set-by-parent-1');
  });

  it('but not after the parent renames it or changes its credit limit', async () => {
    const child = await createCustomer(t, root);
    await root.patch(`/v1/customers/${child.id}`, { name: 'renamed-' + child.login, creditLimit: '10.00' }).expect(200);
    await child.get('/v1/me').expect(200);
    await refresh(child.refreshToken).expect(200);
  });

  it('after suspension (and a suspended customer cannot log in or use its API keys)', async () => {
    const child = await createCustomer(t, root);
    const key = (await child.post('/v1/api-keys', { name: 'k' }).expect(201)).body.apiKey;
    const keyToken = (await t.http().post('/v1/auth/token').send({ apiKey: key }).expect(200)).body.accessToken;
    await root.patch(`/v1/customers/${child.id}`, { status: 'suspended' }).expect(200);
    await expectCut(child);
    await t.http().get('/v1/me').set('Authorization', `Bearer ${keyToken}`).expect(401);
    await t.http().post('/v1/auth/token').send({ apiKey: key }).expect(401);
    await t.http().post('/v1/auth/login').send({ login: child.login, password: child.password }).expect(401);
    // Reactivation lets it log in again; the tokens from before stay dead.
    await root.patch(`/v1/customers/${child.id}`, { status: 'active' }).expect(200);
    await child.get('/v1/me').expect(401);
    await login(t, child.login, child.password);
    await t.http().post('/v1/auth/token').send({ apiKey: key }).expect(200);
  });

  it('after deletion', async () => {
    const child = await createCustomer(t, root);
    const key = (await child.post('/v1/api-keys', { name: 'k' }).expect(201)).body.apiKey;
    await root.delete(`/v1/customers/${child.id}`).expect(204);
    await expectCut(child);
    await t.http().post('/v1/auth/login').send({ login: child.login, password: child.password }).expect(401);
    await t.http().post('/v1/auth/token').send({ apiKey: key }).expect(401);
  });
});
