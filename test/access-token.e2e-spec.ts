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
});
