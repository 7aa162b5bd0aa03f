import { randomUUID } from 'node:crypto';
import { buildCallChain, CallChain } from './setup/call-chain';
import { Actor, Authorized, authorized, createAccount, createCustomer, expectProblem, loginRoot, uniqueName } from './setup/factories';
import { startTestApp, TestApp } from './setup/test-app';
import { PasswordHasher } from '../src/auth/password-hasher';

const PASSWORD = 'web-password-1';

/** An account principal in tests: a session opened with POST /v1/auth/account-login. */
interface AccountSession extends Authorized {
  id: string;
  username: string;
  token: string;
  refreshToken: string;
}

async function accountLogin(t: TestApp, username: string, password = PASSWORD): Promise<AccountSession> {
  const res = await t.http().post('/v1/auth/account-login').send({ username, password });
  if (res.status !== 200) throw new Error(`account login ${username} failed: ${res.status} ${JSON.stringify(res.body)}`);
  return sessionOf(t, username, res.body.accessToken, res.body.refreshToken);
}

async function sessionOf(t: TestApp, username: string, token: string, refreshToken: string): Promise<AccountSession> {
  const requests = authorized(t, token);
  const me = await requests.get('/v1/me').expect(200);
  return { id: me.body.id, username, token, refreshToken, ...requests };
}

const usernameOf = async (owner: Actor, id: string): Promise<string> => (await owner.get(`/v1/accounts/${id}`).expect(200)).body.username;

describe('account self-care (SPEC §2): POST /v1/auth/account-login and the account principal', () => {
  let t: TestApp;
  let chain: CallChain;
  let a: AccountSession;
  /** A's sibling account (same customer R2). */
  let sibling: { id: string };

  beforeAll(async () => {
    // Every request comes from one address here: its failures must not lock the later logins out.
    t = await startTestApp({ RATE_LIMIT_EXPENSIVE_PER_MINUTE: '100000', LOGIN_MAX_FAILURES: '1000' });
    chain = await buildCallChain(t);
    sibling = await createAccount(chain.r2, chain.r2, { tariffId: chain.ta });
    a = await accountLogin(t, await usernameOf(chain.r2, chain.a.id));
  });
  afterAll(() => t.close());

  describe('login', () => {
    it('returns the same token pair as a customer login, for the account itself', async () => {
      const username = await usernameOf(chain.r2, chain.a.id);
      const res = await t.http().post('/v1/auth/account-login').send({ username, password: PASSWORD }).expect(200);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.body).toEqual({ accessToken: expect.any(String), tokenType: 'Bearer', expiresIn: t.config.ACCESS_TOKEN_TTL_SECONDS, refreshToken: expect.any(String) });
      const me = await t.http().get('/v1/me').set('Authorization', `Bearer ${res.body.accessToken}`).expect(200);
      expect(me.body).toMatchObject({ kind: 'account', id: chain.a.id, username });
    });

    it('answers one and the same 401 for a wrong username, a wrong password, a blocked account and a customer’s credentials', async () => {
      const extra = await createAccount(chain.r2, chain.r2, { tariffId: chain.ta });
      const extraName = await usernameOf(chain.r2, extra.id);
      await chain.r2.patch(`/v1/accounts/${extra.id}`, { status: 'blocked' }).expect(200);
      const attempts = [
        { username: `nobody-${randomUUID()}`, password: PASSWORD },
        { username: a.username, password: 'wrong-password' },
        { username: extraName, password: PASSWORD },
        { username: chain.r2.login, password: chain.r2.password },
      ];
      const bodies = [];
      for (const attempt of attempts) {
        const res = await t.http().post('/v1/auth/account-login').send(attempt);
        expect(res.status).toBe(401);
        expectProblem(res, 401);
        const { type, title, status, detail } = res.body;
        bodies.push({ type, title, status, detail });
      }
      expect(new Set(bodies.map((b) => JSON.stringify(b))).size).toBe(1);
      // And an account's credentials are no customer login.
      await t.http().post('/v1/auth/login').send({ login: a.username, password: PASSWORD }).expect(401);
    });

    it('does the same work for an unknown username as for a wrong password (one argon2 verify each)', async () => {
      const verify = jest.spyOn(t.app.get(PasswordHasher), 'verify');
      try {
        for (const attempt of [{ username: `nobody-${randomUUID()}`, password: 'wrong-password' }, { username: a.username, password: 'wrong-password' }]) {
          verify.mockClear();
          await t.http().post('/v1/auth/account-login').send(attempt).expect(401);
          expect(verify).toHaveBeenCalledTimes(1);
        }
      } finally {
        verify.mockRestore();
      }
    });

    it('answers 400 naming the field for a malformed body', async () => {
      const res = await t.http().post('/v1/auth/account-login').send({ login: a.username, password: PASSWORD }).expect(400);
      expectProblem(res, 400);
      expect(JSON.stringify(res.body)).toContain('username');
    });

    it('refreshes (rotating the token) and logs out (only its own tokens)', async () => {
      const session = await accountLogin(t, a.username);
      const rotated = await t.http().post('/v1/auth/refresh').send({ refreshToken: session.refreshToken }).expect(200);
      const me = await t.http().get('/v1/me').set('Authorization', `Bearer ${rotated.body.accessToken}`).expect(200);
      expect(me.body).toMatchObject({ kind: 'account', id: chain.a.id });
      await t.http().post('/v1/auth/refresh').send({ refreshToken: session.refreshToken }).expect(401);
      // Its customer logging out of every session of its own ends none of the account's.
      const other = await accountLogin(t, a.username);
      const r2 = await t.http().post('/v1/auth/login').send({ login: chain.r2.login, password: chain.r2.password }).expect(200);
      await t.http().post('/v1/auth/logout').set('Authorization', `Bearer ${r2.body.accessToken}`).send({}).expect(204);
      const stillGood = await t.http().post('/v1/auth/refresh').send({ refreshToken: other.refreshToken }).expect(200);
      // The account's logout ends its chain.
      await t.http().post('/v1/auth/logout').set('Authorization', `Bearer ${other.token}`).send({ refreshToken: stillGood.body.refreshToken }).expect(204);
      await t.http().post('/v1/auth/refresh').send({ refreshToken: stillGood.body.refreshToken }).expect(401);
    });
  });

  describe('what it sees', () => {
    it('GET /v1/me: its own account record, nothing of its customer', async () => {
      const res = await a.get('/v1/me').expect(200);
      expect(res.headers.etag).toBeDefined();
      expect(Object.keys(res.body).sort()).toEqual(
        ['kind', 'id', 'username', 'timeZone', 'language', 'balance', 'creditLimit', 'availableCredit', 'currency', 'status', 'createdAt', 'updatedAt', 'version'].sort(),
      );
      expect(res.body).toMatchObject({ kind: 'account', id: chain.a.id, username: a.username, currency: 'USD', status: 'active' });
      const text = JSON.stringify(res.body);
      for (const hidden of [chain.r2.id, chain.r1.id, chain.ta, 'permissions']) expect(text).not.toContain(hidden);
    });

    it('a customer’s GET /v1/me says kind "customer"', async () => {
      expect((await chain.r2.get('/v1/me').expect(200)).body).toMatchObject({ kind: 'customer', id: chain.r2.id });
    });

    it('GET /v1/accounts/{its id}: itself; another account (a sibling, one above) or its customer: the one 404', async () => {
      expect((await a.get(`/v1/accounts/${chain.a.id}`).expect(200)).body).toMatchObject({ id: chain.a.id, username: a.username });
      for (const url of [`/v1/accounts/${sibling.id}`, `/v1/accounts/${chain.b.id}`, `/v1/accounts/${chain.c.id}`, `/v1/customers/${chain.r2.id}`, `/v1/customers/${chain.r1.id}`]) {
        const res = await a.get(url);
        expect(`${url} ${res.status}`).toBe(`${url} 404`);
        expectProblem(res, 404);
      }
    });

    it('its own ledger; another account’s is the one 404', async () => {
      const res = await a.get(`/v1/accounts/${chain.a.id}/balance-operations`).expect(200);
      const usage = res.body.items.filter((e: { action: string }) => e.action === 'usage');
      expect(usage.map((e: { notes: string; amount: string }) => [e.notes, e.amount]).sort()).toEqual([
        ['c1', '6.00'],
        ['c2', '0.25'],
      ]);
      await a.get(`/v1/accounts/${sibling.id}/balance-operations`).expect(404);
      await a.get(`/v1/customers/${chain.r2.id}/balance-operations`).expect(404);
    });

    it('its own calls, each with only its own charge (no seller above it); other calls are the one 404', async () => {
      const list = await a.get('/v1/calls').expect(200);
      expect(list.body.items.map((c: { callId: string }) => c.callId).sort()).toEqual(['c1', 'c2', 'c4']);
      const view = (await a.get(`/v1/calls/${chain.ids.c1}`).expect(200)).body;
      expect(view.charges.map((ch: { party: { type: string; id: string }; amount: string }) => [ch.party.type, ch.party.id, ch.amount])).toEqual([['account', chain.a.id, '6.00']]);
      expect(view.viewer).toEqual({ revenue: '0.00', cost: '6.00', margin: '-6.00', currency: 'USD' });
      const text = JSON.stringify(list.body) + JSON.stringify(view);
      for (const hidden of [chain.r1.id, chain.t2, chain.t1, '1.80', '0.90']) expect(text).not.toContain(hidden);
      for (const id of [chain.ids.c3, chain.ids.c5]) expectProblem(await a.get(`/v1/calls/${id}`), 404);
      expect((await a.get(`/v1/calls?accountId=${chain.a.id}`).expect(200)).body.items).toHaveLength(3);
      expectProblem(await a.get(`/v1/calls?accountId=${chain.b.id}`), 404);
      expectProblem(await a.get(`/v1/calls?customerId=${chain.r2.id}`), 404);
    });

    it('its statement; another’s is the one 404', async () => {
      // The month of the postings (now): its two charged calls.
      const res = await a.get(`/v1/accounts/${chain.a.id}/statement`).expect(200);
      expect(res.body).toMatchObject({ holder: { type: 'account', id: chain.a.id }, usage: { calls: 2, seconds: 120 } });
      expect(res.body.totals.usage).toBe('-6.25');
      await a.get(`/v1/accounts/${sibling.id}/statement`).expect(404);
      await a.get(`/v1/customers/${chain.r2.id}/statement`).expect(404);
    });

    it('every other action is a 403, also on itself, and changes nothing', async () => {
      const before = (await chain.r2.get(`/v1/accounts/${chain.a.id}`).expect(200)).body;
      for (const res of [
        await a.patch(`/v1/accounts/${chain.a.id}`, { creditLimit: '1000' }),
        await a.delete(`/v1/accounts/${chain.a.id}`),
        await a.post(`/v1/accounts/${chain.a.id}/balance-operations`, { action: 'add_funds', amount: '100' }).set('Idempotency-Key', randomUUID()),
        await a.get('/v1/accounts'),
        await a.get('/v1/customers'),
        await a.get('/v1/usage'),
        await a.get('/v1/audit-events'),
        await a.post('/v1/api-keys', { name: 'mine' }),
        await a.post('/v1/calls', { calls: [] }),
        await a.post('/v1/accounts', { username: uniqueName('sip'), webPassword: PASSWORD, voipPassword: 'voip-password-1', tariffId: chain.ta }),
      ]) {
        expect(res.status).toBe(403);
        expectProblem(res, 403);
      }
      // On another account the same actions are the one 404.
      expectProblem(await a.patch(`/v1/accounts/${sibling.id}`, { creditLimit: '1000' }), 404);
      expect((await chain.r2.get(`/v1/accounts/${chain.a.id}`).expect(200)).body).toEqual(before);
    });
  });

  describe('PATCH /v1/me', () => {
    it('changes its time zone and language (If-Match honoured), audited with the account as the actor', async () => {
      const current = await a.get('/v1/me').expect(200);
      await a.patch('/v1/me', { timeZone: 'Europe/Paris' }).set('If-Match', '"999"').expect(412);
      const res = await a.patch('/v1/me', { timeZone: 'Europe/Paris', language: 'de' }).set('If-Match', current.headers.etag).expect(200);
      expect(res.body).toMatchObject({ kind: 'account', timeZone: 'Europe/Paris', language: 'de', version: current.body.version + 1 });
      expect((await chain.r2.get(`/v1/accounts/${chain.a.id}`).expect(200)).body).toMatchObject({ timeZone: 'Europe/Paris', language: 'de' });
      const audit = await chain.r2.get(`/v1/audit-events?targetType=account&targetId=${chain.a.id}`).expect(200);
      const event = audit.body.items.find((e: { action: string; actor: string }) => e.action === 'account.update' && e.actor === chain.a.id);
      expect(event).toMatchObject({ actor: chain.a.id, changes: { before: { timeZone: 'Asia/Tokyo' }, after: { timeZone: 'Europe/Paris', language: 'de' } } });
      expect(audit.body.items.some((e: { action: string; actor: string }) => e.action === 'session.login' && e.actor === chain.a.id)).toBe(true);
    });

    it('its login and its change are events for the customers above it, with the account as the actor', async () => {
      const wanted = (items: Array<{ type: string; actor: string | null; subject: { type: string; id: string } }>) =>
        ['session.created', 'account.updated'].every((type) => items.some((e) => e.type === type && e.actor === chain.a.id && e.subject.type === 'account' && e.subject.id === chain.a.id));
      const deadline = Date.now() + 15000;
      let items: Array<{ type: string; actor: string | null; subject: { type: string; id: string } }> = [];
      for (;;) {
        // The feed lags the commits by the relay's interval.
        const res = await chain.r2.get('/v1/events?types=session.created,account.updated&limit=200').expect(200);
        items = res.body.items;
        if (wanted(items) || Date.now() > deadline) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(wanted(items)).toBe(true);
    });

    it('refuses what its customer controls (credit limit, status, tariff, balance) with a 400, changing nothing', async () => {
      const before = (await a.get('/v1/me').expect(200)).body;
      for (const body of [{ creditLimit: '1000' }, { status: 'active' }, { tariffId: chain.ta }, { balance: '10' }, { username: 'me' }]) {
        const res = await a.patch('/v1/me', body);
        expect(res.status).toBe(400);
        expectProblem(res, 400);
      }
      expect((await a.get('/v1/me').expect(200)).body).toEqual(before);
    });

    it('changes its password only with the current one; the change ends its sessions', async () => {
      const account = await createAccount(chain.r2, chain.r2, { tariffId: chain.ta });
      const username = await usernameOf(chain.r2, account.id);
      const session = await accountLogin(t, username);
      const other = await accountLogin(t, username);
      expectProblem(await session.patch('/v1/me', { newPassword: 'new-password-2' }), 400);
      const wrong = await session.patch('/v1/me', { currentPassword: 'wrong-password', newPassword: 'new-password-2' }).expect(400);
      expect(JSON.stringify(wrong.body)).toContain('/currentPassword');
      await session.patch('/v1/me', { currentPassword: PASSWORD, newPassword: 'new-password-2' }).expect(200);
      await session.get('/v1/me').expect(401);
      await other.get('/v1/me').expect(401);
      await t.http().post('/v1/auth/refresh').send({ refreshToken: other.refreshToken }).expect(401);
      await t.http().post('/v1/auth/account-login').send({ username, password: PASSWORD }).expect(401);
      await accountLogin(t, username, 'new-password-2');
    });
  });

  describe('cut on the next request', () => {
    it('blocking the account cuts its tokens (and its refresh); unblocking restores them', async () => {
      const account = await createAccount(chain.r2, chain.r2, { tariffId: chain.ta });
      const session = await accountLogin(t, await usernameOf(chain.r2, account.id));
      await session.get('/v1/me').expect(200);
      await chain.r2.patch(`/v1/accounts/${account.id}`, { status: 'blocked' }).expect(200);
      expectProblem(await session.get('/v1/me'), 401);
      await t.http().post('/v1/auth/refresh').send({ refreshToken: session.refreshToken }).expect(401);
      await chain.r2.patch(`/v1/accounts/${account.id}`, { status: 'active' }).expect(200);
      await session.get('/v1/me').expect(200);
    });

    it('suspending any customer above it cuts it (tokens, refresh, login); reactivating restores it', async () => {
      // R2 → R3 → R4 → the account; R2 suspends R3 (a suspended customer's own sessions end; those below are only held).
      const r3 = await createCustomer(t, chain.r2, { tariffId: chain.ta });
      const r4 = await createCustomer(t, r3);
      const account = await createAccount(r4, r4);
      const username = await usernameOf(r4, account.id);
      const session = await accountLogin(t, username);
      await session.get('/v1/me').expect(200);
      await chain.r2.patch(`/v1/customers/${r3.id}`, { status: 'suspended' }).expect(200);
      try {
        expectProblem(await session.get(`/v1/accounts/${account.id}`), 401);
        await t.http().post('/v1/auth/refresh').send({ refreshToken: session.refreshToken }).expect(401);
        expectProblem(await t.http().post('/v1/auth/account-login').send({ username, password: PASSWORD }), 401);
      } finally {
        await chain.r2.patch(`/v1/customers/${r3.id}`, { status: 'active' }).expect(200);
      }
      await session.get('/v1/me').expect(200);
      await t.http().post('/v1/auth/refresh').send({ refreshToken: session.refreshToken }).expect(200);
    });

    it('a password set by its customer and the account’s deletion cut its tokens', async () => {
      const account = await createAccount(chain.r2, chain.r2, { tariffId: chain.ta });
      const username = await usernameOf(chain.r2, account.id);
      const session = await accountLogin(t, username);
      await chain.r2.patch(`/v1/accounts/${account.id}`, { webPassword: 'set-by-customer-1' }).expect(200);
      expectProblem(await session.get('/v1/me'), 401);
      const again = await accountLogin(t, username, 'set-by-customer-1');
      await chain.r2.delete(`/v1/accounts/${account.id}`).expect(204);
      expectProblem(await again.get('/v1/me'), 401);
      await t.http().post('/v1/auth/refresh').send({ refreshToken: again.refreshToken }).expect(401);
      expectProblem(await t.http().post('/v1/auth/account-login').send({ username, password: 'set-by-customer-1' }), 401);
    });
  });
});

describe('account login limiter (same as customer login: per username and per client address)', () => {
  let t: TestApp;
  const attempt = (address: string, username: string, password: string) =>
    t.http().post('/v1/auth/account-login').set('X-Forwarded-For', address).send({ username, password });

  beforeAll(async () => {
    t = await startTestApp({ LOGIN_MAX_FAILURES: '3', TRUST_PROXY: 'true' });
  });
  afterAll(() => t.close());

  it('answers 429 with Retry-After once a username has failed LOGIN_MAX_FAILURES times, even with the right password', async () => {
    const root = await loginRoot(t);
    const account = await createAccount(root, root);
    const username = await usernameOf(root, account.id);
    for (const address of ['10.1.0.1', '10.1.0.2', '10.1.0.3']) await attempt(address, username, 'wrong-password').expect(401);
    const res = await attempt('10.1.0.4', username, PASSWORD).expect(429);
    expectProblem(res, 429);
    expect(res.body).toMatchObject({ type: 'https://canopy.dev/problems/too-many-login-attempts', status: 429 });
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
  });

  it('answers 429 once an address has failed LOGIN_MAX_FAILURES times, whatever the username (customer logins included)', async () => {
    for (const name of ['ghost-1', 'ghost-2', 'ghost-3']) await attempt('10.1.1.1', name, 'wrong-password').expect(401);
    expectProblem(await t.http().post('/v1/auth/login').set('X-Forwarded-For', '10.1.1.1').send({ login: 'root', password: 'root-password' }), 429);
    const root = await loginRoot(t);
    const account = await createAccount(root, root);
    expectProblem(await attempt('10.1.1.1', await usernameOf(root, account.id), PASSWORD), 429);
    await attempt('10.1.1.2', await usernameOf(root, account.id), PASSWORD).expect(200);
  });

  it('counts wrong current passwords of PATCH /v1/me against the account’s username', async () => {
    const root = await loginRoot(t);
    const account = await createAccount(root, root);
    const username = await usernameOf(root, account.id);
    const res = await t.http().post('/v1/auth/account-login').set('X-Forwarded-For', '10.1.2.1').send({ username, password: PASSWORD }).expect(200);
    const patch = (address: string, currentPassword: string) =>
      t.http().patch('/v1/me').set('X-Forwarded-For', address).set('Authorization', `Bearer ${res.body.accessToken}`).send({ currentPassword, newPassword: 'new-password-9' });
    for (const address of ['10.1.2.2', '10.1.2.3', '10.1.2.4']) await patch(address, 'wrong-password').expect(400);
    expectProblem(await patch('10.1.2.5', PASSWORD), 429);
  });
});
