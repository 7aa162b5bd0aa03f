import { loginRoot } from './setup/factories';
import { startTestApp, TestApp } from './setup/test-app';

describe('API-key exchange limit', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ LOGIN_MAX_FAILURES: '3' });
  });
  afterAll(() => t.close());

  it('lets concurrent good exchanges through and stops guessing after LOGIN_MAX_FAILURES failures per address', async () => {
    const root = await loginRoot(t);
    const key = await root.post('/v1/api-keys', { name: 'machine' }).expect(201);
    const burst = await Promise.all(Array.from({ length: 8 }, () => t.http().post('/v1/auth/token').send({ apiKey: key.body.apiKey })));
    expect(burst.map((r) => r.status)).toEqual(Array(8).fill(200));
    for (let i = 0; i < 3; i++) {
      await t.http().post('/v1/auth/token').send({ apiKey: `cnp_AAAAAAAAAAAA_${'x'.repeat(43)}` }).expect(401);
    }
    const limited = await t.http().post('/v1/auth/token').send({ apiKey: key.body.apiKey }).expect(429);
    expect(limited.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
  });
});
