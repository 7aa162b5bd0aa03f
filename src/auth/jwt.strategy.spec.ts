import { createHmac, createSecretKey } from 'node:crypto';
import { AppConfig } from '../config/config';
import { Caller } from '../tree/caller';
import { CallerResolver } from './caller.resolver';
import { JwtSecret } from './jwt-secret';
import { JwtStrategy, VerifiedTokens } from './jwt.strategy';

/** The verified-token cache: a token is verified once, still expires at its `exp`, and its caller is resolved every time. */
describe('JwtStrategy with verified tokens kept', () => {
  const SECRET = 'unit-secret-unit-secret-unit-secret-0123';
  const SUB = '00000000-0000-4000-8000-000000000001';
  const config = { JWT_ISSUER: 'canopy', JWT_AUDIENCE: 'canopy-api', CALLER_CACHE_SIZE: 100 } as AppConfig;
  const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const bearer = (claims: Record<string, unknown>, secret = SECRET) => {
    const body = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ sub: SUB, ver: 1, iss: 'canopy', aud: 'canopy-api', ...claims })}`;
    return `Bearer ${body}.${createHmac('sha256', secret).update(body).digest('base64url')}`;
  };
  const caller = { customerId: SUB } as Caller;

  function setup() {
    const answers: Array<Caller | null> = [];
    const resolved: unknown[] = [];
    const callers = {
      resolve: (claims: unknown) => {
        resolved.push(claims);
        return Promise.resolve(answers.length ? answers.shift()! : caller);
      },
    } as unknown as CallerResolver;
    const secret = { verificationKey: () => Promise.resolve(createSecretKey(Buffer.from(SECRET))) } as unknown as JwtSecret;
    return { strategy: new JwtStrategy(config, secret, callers), answers, resolved };
  }

  afterEach(() => jest.useRealTimers());

  it('verifies a token once and still resolves its caller on every request (a revoked caller is refused at once)', async () => {
    const { strategy, answers, resolved } = setup();
    const now = Math.floor(Date.now() / 1000);
    const header = bearer({ exp: now + 60 });
    await expect(strategy.authenticate(header)).resolves.toBe(caller);
    expect(strategy.verified.count).toBe(1);
    await expect(strategy.authenticate(header)).resolves.toBe(caller);
    // The caller cache said the caller is gone (e.g. its password changed): the kept token does not help.
    answers.push(null);
    await expect(strategy.authenticate(header)).resolves.toBeNull();
    expect(resolved).toHaveLength(3);
  });

  it('refuses a kept token from its exp on, as jsonwebtoken does', async () => {
    const { strategy } = setup();
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
    const start = Math.floor(Date.now() / 1000) * 1000;
    jest.setSystemTime(start);
    const header = bearer({ exp: start / 1000 + 5 });
    await expect(strategy.authenticate(header)).resolves.toBe(caller);
    jest.setSystemTime(start + 4999);
    await expect(strategy.authenticate(header)).resolves.toBe(caller);
    jest.setSystemTime(start + 5000);
    await expect(strategy.authenticate(header)).resolves.toBeNull();
    expect(strategy.verified.count).toBe(0);
  });

  it('keeps no refused token: a bad signature, no exp, or malformed claims', async () => {
    const { strategy, resolved } = setup();
    const now = Math.floor(Date.now() / 1000);
    for (const header of [
      bearer({ exp: now + 60 }, 'another-secret-another-secret-0123456789'),
      bearer({ exp: undefined }),
      bearer({ exp: now + 60, sub: 'not-an-id' }),
      bearer({ exp: now + 60, knd: 'robot' }),
      'Basic abc',
    ]) {
      await expect(strategy.authenticate(header)).resolves.toBeNull();
      await expect(strategy.authenticate(header)).resolves.toBeNull();
    }
    expect(strategy.verified.count).toBe(0);
    expect(resolved).toHaveLength(0);
  });

  it('holds at most its size, the oldest going first; size 0 keeps nothing', () => {
    const tokens = new VerifiedTokens(2);
    const exp = Math.floor(Date.now() / 1000) + 60;
    const claims = { sub: SUB, ver: 1, exp };
    tokens.store('a', claims);
    tokens.store('b', claims);
    tokens.store('c', claims);
    expect([tokens.get('a'), tokens.get('b'), tokens.get('c')]).toEqual([undefined, claims, claims]);
    const none = new VerifiedTokens(0);
    none.store('a', claims);
    expect(none.count).toBe(0);
  });
});
