import { randomUUID } from 'node:crypto';
import { PasswordHasher } from '../src/auth/password-hasher';
import { feedUntil } from './setup/events';
import { Actor, createAccount, createCustomer, createTariff, expectProblem, loginRoot, restrictedActor } from './setup/factories';
import { startTestApp, TestApp } from './setup/test-app';

const MISSING = '00000000-0000-4000-8000-000000000000';

interface Card {
  id: string;
  username: string;
  pin: string | null;
}

/** Prepaid cards (SPEC §15): POST /v1/customers/{id}/account-batches. */
describe('account batches (prepaid cards)', () => {
  let t: TestApp;
  let root: Actor, cards: Actor, other: Actor;
  let tariffId: string;
  let prefixNo = 0;
  /** A prefix no other test uses. */
  const freshPrefix = () => `p${++prefixNo}${randomUUID().slice(0, 6)}-`;
  const batch = (actor: Actor, customerId: string, body: Record<string, unknown>) =>
    actor.post(`/v1/customers/${customerId}/account-batches`, { tariffId, ...body });

  const liveWithPrefix = async (prefix: string): Promise<number> => {
    const [row] = await t.dataSource.query(`SELECT count(*)::int AS n FROM accounts WHERE username LIKE $1 || '%' AND deleted_at IS NULL`, [prefix]);
    return row.n;
  };

  beforeAll(async () => {
    t = await startTestApp();
    root = await loginRoot(t);
    // The seed's "virtual customer for keeping track of pre-paid cards", under the root; and a sibling.
    cards = await createCustomer(t, root, { name: 'Prepaid cards' });
    other = await createCustomer(t, root, { name: 'Other' });
    tariffId = await createTariff(cards);
  });
  afterAll(() => t.close());

  it('creates the accounts with numbered usernames and random digit PINs, in sequence order', async () => {
    const prefix = freshPrefix();
    const res = await batch(root, cards.id, { count: 25, usernamePrefix: prefix }).expect(201);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body.count).toBe(25);
    const items: Card[] = res.body.items;
    expect(items.map((c) => c.username)).toEqual(Array.from({ length: 25 }, (_, i) => `${prefix}${String(i + 1).padStart(6, '0')}`));
    for (const card of items) expect(card.pin).toMatch(/^[0-9]{8}$/);
    expect(new Set(items.map((c) => c.pin)).size).toBeGreaterThan(20);
    // Each is an account of the customer like any other, with the customer's defaults.
    const one = await root.get(`/v1/accounts/${items[7].id}`).expect(200);
    expect(one.body).toMatchObject({ customerId: cards.id, username: items[7].username, tariffId, balance: '0.00', status: 'active', maxSessions: 1 });
    // Lists (oldest first) show them in sequence order.
    const list = await cards.get(`/v1/accounts?q=${encodeURIComponent(prefix)}&limit=200`).expect(200);
    expect(list.body.items.map((a: { username: string }) => a.username)).toEqual(items.map((c) => c.username));
  });

  it('stores each PIN as the VoIP password and as a salted PBKDF2 web-password hash that the password check verifies', async () => {
    const res = await batch(root, cards.id, { count: 3, usernamePrefix: freshPrefix(), pinLength: 4 }).expect(201);
    const hasher = t.app.get(PasswordHasher);
    const hashes = new Set<string>();
    for (const card of res.body.items as Card[]) {
      expect(card.pin).toMatch(/^[0-9]{4}$/);
      const [row] = await t.dataSource.query(`SELECT web_password_hash, voip_password FROM accounts WHERE id = $1`, [card.id]);
      expect(row.voip_password).toBe(card.pin);
      expect(row.web_password_hash).toMatch(/^\$pbkdf2-sha256\$i=200\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
      expect(await hasher.verify(row.web_password_hash, card.pin!)).toBe(true);
      expect(await hasher.verify(row.web_password_hash, card.pin === '0000' ? '0001' : '0000')).toBe(false);
      hashes.add(row.web_password_hash);
    }
    expect(hashes.size).toBe(3);
    const long = await batch(root, cards.id, { count: 2, usernamePrefix: freshPrefix(), pinLength: 12 }).expect(201);
    for (const card of long.body.items as Card[]) expect(card.pin).toMatch(/^[0-9]{12}$/);
  });

  it('a card logs in with its username and PIN (POST /v1/auth/account-login) and sees only itself; a wrong PIN is the usual 401', async () => {
    const res = await batch(root, cards.id, { count: 2, usernamePrefix: freshPrefix(), balance: '3.00' }).expect(201);
    const [card, otherCard] = res.body.items as Card[];
    const login = await t.http().post('/v1/auth/account-login').send({ username: card.username, password: card.pin }).expect(200);
    expect(login.body.tokenType).toBe('Bearer');
    const me = await t.http().get('/v1/me').set('Authorization', `Bearer ${login.body.accessToken}`).expect(200);
    expect(me.body).toMatchObject({ kind: 'account', id: card.id, username: card.username, balance: '3.00' });
    await t.http().get(`/v1/accounts/${otherCard.id}`).set('Authorization', `Bearer ${login.body.accessToken}`).expect(404);
    const wrong = await t.http().post('/v1/auth/account-login').send({ username: card.username, password: card.pin === '00000000' ? '00000001' : '00000000' });
    const unknown = await t.http().post('/v1/auth/account-login').send({ username: `${card.username}x`, password: card.pin });
    expect(wrong.status).toBe(401);
    expect(wrong.body).toEqual(unknown.body);
    // A PIN's cheap hash is checked in an argon2 check's time too (no username told by timing).
    const spent = jest.spyOn(t.app.get(PasswordHasher), 'verifyNothing');
    try {
      await t.http().post('/v1/auth/account-login').send({ username: card.username, password: card.pin }).expect(200);
      expect(spent).toHaveBeenCalledTimes(1);
    } finally {
      spent.mockRestore();
    }
  });

  it('numbers after the highest number a live account with the prefix has', async () => {
    const prefix = freshPrefix();
    await batch(root, cards.id, { count: 3, usernamePrefix: prefix }).expect(201);
    const next = await batch(root, cards.id, { count: 2, usernamePrefix: prefix }).expect(201);
    expect(next.body.items.map((c: Card) => c.username)).toEqual([`${prefix}000004`, `${prefix}000005`]);
    // An account made by hand with a higher number (any width) moves the sequence on.
    await createAccount(root, cards, { username: `${prefix}41`, tariffId });
    const after = await batch(root, cards.id, { count: 1, usernamePrefix: prefix }).expect(201);
    expect(after.body.items[0].username).toBe(`${prefix}000042`);
    // An explicit first number.
    const explicit = await batch(root, cards.id, { count: 2, usernamePrefix: prefix, firstNumber: 1000000 }).expect(201);
    expect(explicit.body.items.map((c: Card) => c.username)).toEqual([`${prefix}1000000`, `${prefix}1000001`]);
  });

  it('writes one opening ledger entry per account; balances equal their ledgers', async () => {
    const res = await batch(root, cards.id, { count: 10, usernamePrefix: freshPrefix(), balance: '5.25', creditLimit: '1.00' }).expect(201);
    const ids = (res.body.items as Card[]).map((c) => c.id);
    const rows: Array<{ balance: string; sum: string; entries: number; actions: string[] }> = await t.dataSource.query(
      `SELECT b.balance::text AS balance, COALESCE(sum(e.converted_amount), 0)::text AS sum, count(e.id)::int AS entries,
              array_agg(e.action) AS actions
         FROM account_balances b LEFT JOIN ledger_entries e ON e.account_id = b.account_id WHERE b.account_id = ANY($1::uuid[]) GROUP BY b.account_id, b.balance`,
      [ids],
    );
    expect(rows).toHaveLength(10);
    for (const row of rows) {
      expect(row).toMatchObject({ balance: '5.25000000', sum: '5.25000000', entries: 1, actions: ['opening_balance'] });
    }
    const ledger = await cards.get(`/v1/accounts/${ids[3]}/balance-operations`).expect(200);
    expect(ledger.body.items).toHaveLength(1);
    expect(ledger.body.items[0]).toMatchObject({ action: 'opening_balance', amount: '5.25', balanceAfter: '5.25', currency: 'USD' });
    const account = await cards.get(`/v1/accounts/${ids[3]}`).expect(200);
    expect(account.body).toMatchObject({ balance: '5.25', creditLimit: '1.00', availableCredit: '6.25' });
    // A zero balance writes no entry.
    const zero = await batch(root, cards.id, { count: 2, usernamePrefix: freshPrefix() }).expect(201);
    const [{ n }] = await t.dataSource.query(`SELECT count(*)::int AS n FROM ledger_entries WHERE account_id = ANY($1::uuid[])`, [
      (zero.body.items as Card[]).map((c) => c.id),
    ]);
    expect(n).toBe(0);
  });

  it('is all or none: a username already in use is a 409 naming it, and nothing is written', async () => {
    const prefix = freshPrefix();
    await createAccount(root, cards, { username: `${prefix}000003`, tariffId });
    const [{ n: entriesBefore }] = await t.dataSource.query(`SELECT count(*)::int AS n FROM ledger_entries`);
    const [{ n: auditBefore }] = await t.dataSource.query(`SELECT count(*)::int AS n FROM audit_events`);
    const res = await batch(root, cards.id, { count: 5, usernamePrefix: prefix, firstNumber: 1, balance: '1.00' });
    expectProblem(res, 409);
    expect(res.body.type).toMatch(/\/username-taken$/);
    expect(res.body.username).toBe(`${prefix}000003`);
    expect(res.body.errors).toEqual([{ pointer: '/firstNumber', detail: `${prefix}000003 is already in use` }]);
    expect(await liveWithPrefix(prefix)).toBe(1);
    const [{ n: entriesAfter }] = await t.dataSource.query(`SELECT count(*)::int AS n FROM ledger_entries`);
    const [{ n: auditAfter }] = await t.dataSource.query(`SELECT count(*)::int AS n FROM audit_events`);
    expect(entriesAfter).toBe(entriesBefore);
    expect(auditAfter).toBe(auditBefore);
    // Without firstNumber the batch numbers past it.
    const ok = await batch(root, cards.id, { count: 1, usernamePrefix: prefix }).expect(201);
    expect(ok.body.items[0].username).toBe(`${prefix}000004`);
  });

  it('is all or none when the username is taken while the batch is being prepared (409, nothing written)', async () => {
    const prefix = freshPrefix();
    // 5,000 PINs take a while to hash; the account made meanwhile is found by the batch's INSERT
    // (or, had it come first, by the check before hashing: the same answer).
    const pending = batch(root, cards.id, { count: 5000, usernamePrefix: prefix, firstNumber: 1, balance: '1.00' }).then((r) => r);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await createAccount(root, cards, { username: `${prefix}004777`, tariffId });
    const res = await pending;
    expectProblem(res, 409);
    expect(res.body.username).toBe(`${prefix}004777`);
    expect(await liveWithPrefix(prefix)).toBe(1);
    const [{ n }] = await t.dataSource.query(
      `SELECT count(*)::int AS n FROM audit_events WHERE action = 'account.create' AND changes->'after'->>'username' LIKE $1 || '%'`,
      [prefix],
    );
    expect(n).toBe(1);
  });

  it('answers CSV (id,username,pin) with Accept: text/csv', async () => {
    const prefix = freshPrefix();
    const res = await batch(root, cards.id, { count: 4, usernamePrefix: prefix }).set('Accept', 'text/csv').expect(201);
    expect(res.headers['content-type']).toBe('text/csv; charset=utf-8');
    const lines = res.text.trimEnd().split('\n');
    expect(lines[0]).toBe('id,username,pin');
    expect(lines).toHaveLength(5);
    for (const [i, line] of lines.slice(1).entries()) {
      const [id, username, pin] = line.split(',');
      expect(username).toBe(`${prefix}00000${i + 1}`);
      expect(pin).toMatch(/^[0-9]{8}$/);
      const [row] = await t.dataSource.query(`SELECT voip_password FROM accounts WHERE id = $1 AND username = $2`, [id, username]);
      expect(row.voip_password).toBe(pin);
    }
  });

  it('audits the batch once without PINs, each account as a create, and emits account-batch.created', async () => {
    const prefix = freshPrefix();
    const res = await batch(root, cards.id, { count: 6, usernamePrefix: prefix, balance: '2.00' }).expect(201);
    const pins = (res.body.items as Card[]).map((c) => c.pin!);
    const events = await root.get(`/v1/audit-events?targetType=customer&targetId=${cards.id}&limit=200`).expect(200);
    const batchEvents = events.body.items.filter((e: { action: string; changes: { after: { usernamePrefix?: string } } }) => e.action === 'account-batch.create' && e.changes.after.usernamePrefix === prefix);
    expect(batchEvents).toHaveLength(1);
    expect(batchEvents[0]).toMatchObject({
      targetType: 'customer',
      targetId: cards.id,
      changes: { after: { count: 6, usernamePrefix: prefix, firstUsername: `${prefix}000001`, lastUsername: `${prefix}000006`, pinLength: 8, balance: '2.00' } },
    });
    const ids = (res.body.items as Card[]).map((c) => c.id);
    const creates: Array<{ changes: { after: Record<string, unknown> } }> = await t.dataSource.query(
      `SELECT changes FROM audit_events WHERE action = 'account.create' AND target_id = ANY($1::text[])`,
      [ids],
    );
    expect(creates).toHaveLength(6);
    expect(creates[0].changes.after).toMatchObject({ customerId: cards.id, tariffId, balance: '2.00', webPassword: '***', voipPassword: '***' });
    // No PIN anywhere in the audit trail.
    const [{ found }] = await t.dataSource.query(
      `SELECT count(*)::int AS found FROM audit_events a, unnest($1::text[]) AS p(pin) WHERE a.changes::text LIKE '%"' || p.pin || '"%'`,
      [pins],
    );
    expect(found).toBe(0);
    const feed = await feedUntil(cards, (all) => all.some((e) => e.type === 'account-batch.created' && e.data.changes.after.usernamePrefix === prefix));
    expect(feed.filter((e) => e.type === 'account-batch.created' && e.data.changes.after.usernamePrefix === prefix)).toHaveLength(1);
  });

  it('replays an Idempotency-Key without PINs, and stores none', async () => {
    const key = randomUUID();
    const body = { tariffId, count: 3, usernamePrefix: freshPrefix() };
    const first = await root.post(`/v1/customers/${cards.id}/account-batches`, body).set('Idempotency-Key', key).set('Accept', 'text/csv').expect(201);
    const pins = first.text.trimEnd().split('\n').slice(1).map((line) => line.split(',')[2]);
    const ids = first.text.trimEnd().split('\n').slice(1).map((line) => line.split(',')[0]);
    const replay = await root.post(`/v1/customers/${cards.id}/account-batches`, body).set('Idempotency-Key', key).expect(201);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.body).toEqual({ count: 3, items: ids.map((id, i) => ({ id, username: `${body.usernamePrefix}00000${i + 1}`, pin: null })) });
    expect(await liveWithPrefix(body.usernamePrefix)).toBe(3);
    const [{ found }] = await t.dataSource.query(
      `SELECT count(*)::int AS found FROM idempotency_keys k, unnest($1::text[]) AS p(pin) WHERE k.response_body::text LIKE '%"' || p.pin || '"%'`,
      [pins],
    );
    expect(found).toBe(0);
    const [{ stored }] = await t.dataSource.query(`SELECT count(*)::int AS stored FROM idempotency_keys WHERE key = $1 AND response_body IS NOT NULL`, [key]);
    expect(stored).toBe(1);
  });

  describe('bad input: a 400 naming the field, nothing written', () => {
    it.each([
      [{ count: 0 }, '/count'],
      [{ count: 10001 }, '/count'],
      [{ count: 1.5 }, '/count'],
      [{ count: '10' }, '/count'],
      [{ pinLength: 3 }, '/pinLength'],
      [{ pinLength: 13 }, '/pinLength'],
      [{ firstNumber: 0 }, '/firstNumber'],
      [{ usernamePrefix: 'has space-' }, '/usernamePrefix'],
      [{ usernamePrefix: 'ends-in-digit7' }, '/usernamePrefix'],
      [{ usernamePrefix: '' }, '/usernamePrefix'],
      [{ usernamePrefix: `${'x'.repeat(32)}-` }, '/usernamePrefix'],
      [{ balance: 5 }, '/balance'],
      [{ balance: '-1.00' }, '/balance'],
      [{ pin: '1234' }, '/pin'],
    ])('%j → 400 naming %s', async (change, pointer) => {
      const prefix = freshPrefix();
      const res = await batch(root, cards.id, { count: 2, usernamePrefix: prefix, ...change });
      expectProblem(res, 400);
      expect((res.body.errors as Array<{ pointer: string }>).map((e) => e.pointer)).toContain(pointer);
      expect(await liveWithPrefix(prefix)).toBe(0);
    });

    it('a tariff the customer does not own is a 400 naming /tariffId', async () => {
      const prefix = freshPrefix();
      const res = await batch(root, cards.id, { count: 2, usernamePrefix: prefix, tariffId: await createTariff(other) });
      expectProblem(res, 400);
      expect(res.body.errors).toEqual([{ pointer: '/tariffId', detail: expect.any(String) }]);
      expect(await liveWithPrefix(prefix)).toBe(0);
    });
  });

  describe('rights and visibility', () => {
    it('needs accounts.create (403 naming it), and balances.operate for an opening balance', async () => {
      const prefix = freshPrefix();
      const noCreate = await restrictedActor(t, root, ['balances.operate']);
      const denied = await batch(noCreate, cards.id, { count: 2, usernamePrefix: prefix });
      expectProblem(denied, 403);
      expect(denied.body.permission).toBe('accounts.create');
      const noOperate = await restrictedActor(t, root, ['accounts.create']);
      const noMoney = await batch(noOperate, cards.id, { count: 2, usernamePrefix: prefix, balance: '1.00' });
      expectProblem(noMoney, 403);
      expect(noMoney.body.permission).toBe('balances.operate');
      expect(await liveWithPrefix(prefix)).toBe(0);
      await batch(noOperate, cards.id, { count: 2, usernamePrefix: prefix }).expect(201);
    });

    it('a customer outside the caller’s subtree, or none, is a 404', async () => {
      const prefix = freshPrefix();
      expectProblem(await batch(other, cards.id, { count: 2, usernamePrefix: prefix }), 404);
      expectProblem(await batch(cards, root.id, { count: 2, usernamePrefix: prefix }), 404);
      expectProblem(await batch(root, MISSING, { count: 2, usernamePrefix: prefix }), 404);
      expect(await liveWithPrefix(prefix)).toBe(0);
    });

    it('a customer may issue cards for itself', async () => {
      const res = await batch(cards, cards.id, { count: 2, usernamePrefix: freshPrefix() }).expect(201);
      expect(res.body.count).toBe(2);
    });
  });
});
