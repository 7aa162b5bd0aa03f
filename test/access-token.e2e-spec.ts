import { createHmac } from 'node:crypto';
import { Actor, createCustomer, loginRoot } from './setup/factories';
import { startTestApp, TestApp } from './setup/test-app';

/** Access-token verification: one pinned algorithm, the configured secret, iss/aud/exp. */
describe('access tokens', () => {
  let t: TestApp;
  let a: Actor;

  const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  function token(claims: Record<string, unknown>, { secret = t.config.JWT_SECRET!, alg = 'HS256' } = {}) {
    const now = Math.floor(Date.now() / 1000);
    const body = `${b64({ alg, typ: 'JWT' })}.${b64({ sub: a.id, ver: 1, iss: t.config.JWT_ISSUER, aud: t.config.JWT_AUDIENCE, iat: now, exp: now + 60, ...claims })}`;
    if (alg === 'none') return `${body}.`;
    const hmac = createHmac(alg === 'HS512' ? 'sha512' : 'sha256', secret).update(body).digest('base64url');
    return `${body}.${hmac}`;
  }
  const me = (jwt: string) => t.http().get('/v1/me').set('Authorization', `Bearer ${jwt}`);

  beforeAll(async () => {
    t = await startTestApp();
    a = await createCustomer(t, await loginRoot(t));
  });
  afterAll(() => t.close());

  it('accepts the tokens it issues, and a well-formed token signed with its secret', async () => {
    await a.get('/v1/me').expect(200);
    await me(token({})).expect(200);
    await me(token({})).expect(200); // the key is reused, not rebuilt
  });

  it('refuses another secret, another algorithm, alg none, a wrong issuer or audience, and an expired token', async () => {
    await me(token({}, { secret: 'another-secret-another-secret-0123456789' })).expect(401);
    await me(token({}, { alg: 'HS512' })).expect(401);
    await me(token({}, { alg: 'none' })).expect(401);
    await me(token({ iss: 'someone-else' })).expect(401);
    await me(token({ aud: 'someone-else' })).expect(401);
    await me(token({ exp: Math.floor(Date.now() / 1000) - 10 })).expect(401);
  });

  it('refuses a token without exp, one not yet valid, a tampered payload and other schemes; reads the header as before', async () => {
    const now = Math.floor(Date.now() / 1000);
    await me(token({ exp: undefined })).expect(401);
    await me(token({ exp: String(now + 60) })).expect(401);
    await me(token({ nbf: now + 60 })).expect(401);
    await me(token({ nbf: now - 60 })).expect(200);
    await me(token({ aud: ['another-api', t.config.JWT_AUDIENCE] })).expect(200);
    await me(token({ aud: ['another-api'] })).expect(401);
    const [head, , signature] = token({}).split('.');
    await me(`${head}.${b64({ sub: a.id, ver: 1, iss: t.config.JWT_ISSUER, aud: t.config.JWT_AUDIENCE, exp: now + 3600 })}.${signature}`).expect(401);
    await me('not.a.token').expect(401);
    await me(`${token({})}x`).expect(401);
    const good = token({});
    await t.http().get('/v1/me').set('Authorization', `bearer ${good}`).expect(200);
    await t.http().get('/v1/me').set('Authorization', `Bearer   ${good}`).expect(200);
    const basic = await t.http().get('/v1/me').set('Authorization', `Basic ${good}`).expect(401);
    expect(basic.headers['www-authenticate']).toBe('Bearer realm="canopy"');
    expect(basic.headers['content-type']).toMatch(/^application\/problem\+json/);
  });
});
