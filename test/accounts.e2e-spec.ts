import Big from 'big.js';
import { randomUUID } from 'node:crypto';
import { createCanopyClient } from '../openapi/client';
import { Actor, createCustomer, createTariff, expectProblem, loginRoot, restrictedActor, uniqueName } from './setup/factories';
import { startTestApp, TestApp } from './setup/test-app';

const MISSING = '00000000-0000-4000-8000-000000000000';
const WEB_PASSWORD = 'web-secret-1234';
const VOIP_PASSWORD = 'voip-secret-5678';

interface Account {
  id: string;
  customerId: string;
  username: string;
  balance: string;
  version: number;
  [field: string]: unknown;
}

/** Creates an account for `owner` (as `actor`, default the owner itself) on a fresh tariff of the owner's. */
async function createAccount(actor: Actor, owner: Actor, body: Record<string, unknown> = {}): Promise<Account> {
  const tariffId = (body.tariffId as string | undefined) ?? (await createTariff(owner));
  const res = await actor.post('/v1/accounts', {
    customerId: owner.id,
    username: uniqueName('sip'),
    webPassword: WEB_PASSWORD,
    voipPassword: VOIP_PASSWORD,
    tariffId,
    ...body,
  });
  if (res.status !== 201) throw new Error(`account: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

const op = (actor: Actor, accountId: string, body: object, key: string = randomUUID()) =>
  actor.post(`/v1/accounts/${accountId}/balance-operations`, body).set('Idempotency-Key', key);

async function ledgerSum(t: TestApp, accountId: string): Promise<{ balance: string; sum: string; entries: number }> {
  const [row] = await t.dataSource.query(
    `SELECT b.balance::text AS balance, COALESCE(sum(e.converted_amount), 0)::text AS sum, count(e.id)::int AS entries
       FROM account_balances b LEFT JOIN ledger_entries e ON e.account_id = b.account_id WHERE b.account_id = $1 GROUP BY b.balance`,
    [accountId],
  );
  return row;
}

describe('accounts', () => {
  let t: TestApp;
  let root: Actor, a: Actor, b: Actor, c: Actor, d: Actor;
  let rootAccount: Account, aAccount: Account, bAccount: Account, cAccount: Account, dAccount: Account;

  beforeAll(async () => {
    t = await startTestApp();
    root = await loginRoot(t);
    // The seed's picture: Root → A, B; A → C; C → D; each with an account.
    a = await createCustomer(t, root, { name: 'A', timeZone: 'Europe/Paris', language: 'fr' });
    b = await createCustomer(t, root, { name: 'B' });
    c = await createCustomer(t, a, { name: 'C' });
    d = await createCustomer(t, c, { name: 'D' });
    rootAccount = await createAccount(root, root);
    aAccount = await createAccount(a, a);
    bAccount = await createAccount(b, b);
    cAccount = await createAccount(a, c);
    dAccount = await createAccount(d, d);
  });
  afterAll(() => t.close());

  describe('create, read, update, delete', () => {
    it('creates an account with the customer’s defaults and never returns a password', async () => {
      const tariffId = await createTariff(a);
      const res = await root
        .post('/v1/accounts', { customerId: a.id, username: 'alice+1@sip.example', webPassword: WEB_PASSWORD, voipPassword: VOIP_PASSWORD, tariffId })
        .expect(201);
      expect(Object.keys(res.body).sort()).toEqual(
        [
          'availableCredit', 'balance', 'createdAt', 'creditLimit', 'currency', 'customerId', 'display', 'externalId', 'id', 'language',
          'lowBalanceThreshold', 'maxSessions', 'metadata', 'routingGroupId', 'status', 'tariffId', 'timeZone', 'updatedAt', 'username', 'version',
        ].sort(),
      );
      expect(res.body).toMatchObject({
        customerId: a.id,
        username: 'alice+1@sip.example',
        tariffId,
        timeZone: 'Europe/Paris',
        language: 'fr',
        balance: '0.00',
        creditLimit: '0.00',
        availableCredit: '0.00',
        currency: 'USD',
        display: { currency: 'USD', balance: '0.00', creditLimit: '0.00' },
        lowBalanceThreshold: null,
        maxSessions: 1,
        status: 'active',
        routingGroupId: null,
        externalId: null,
        metadata: {},
        version: 1,
      });
      expect(res.headers.etag).toBe('"1"');
      expect(res.headers.location).toBe(`/v1/accounts/${res.body.id}`);
      const got = await a.get(`/v1/accounts/${res.body.id}`).expect(200);
      expect(got.body).toEqual(res.body);
      expect(got.headers.etag).toBe('"1"');
      for (const body of [res.body, got.body, (await a.get('/v1/accounts?limit=200').expect(200)).body]) {
        const text = JSON.stringify(body);
        expect(text).not.toContain(WEB_PASSWORD);
        expect(text).not.toContain(VOIP_PASSWORD);
        expect(text).not.toMatch(/password|hash|path/i);
      }
      const [stored] = await t.dataSource.query(`SELECT web_password_hash, voip_password FROM accounts WHERE id = $1`, [res.body.id]);
      expect(stored.web_password_hash).toMatch(/^\$argon2id\$/);
      expect(stored.voip_password).toBe(VOIP_PASSWORD);
    });

    it('records an opening balance as the first ledger entry', async () => {
      const account = await createAccount(a, c, { balance: '-2.5', creditLimit: '10', maxSessions: 0, status: 'blocked' });
      expect(account).toMatchObject({ balance: '-2.50', creditLimit: '10.00', availableCredit: '7.50', maxSessions: 0, status: 'blocked' });
      const ledger = await a.get(`/v1/accounts/${account.id}/balance-operations`).expect(200);
      expect(ledger.body.items).toEqual([
        expect.objectContaining({ action: 'opening_balance', amount: '-2.50', convertedAmount: '-2.50', balanceAfter: '-2.50', actor: a.id }),
      ]);
      const tooLow = await createAccountRaw(a, c, { balance: '-10.01', creditLimit: '10' });
      expectProblem(tooLow, 400);
      expect(tooLow.body.errors).toEqual([expect.objectContaining({ pointer: '/balance' })]);
    });

    async function createAccountRaw(actor: Actor, owner: Actor, body: Record<string, unknown>) {
      const tariffId = await createTariff(owner);
      return actor.post('/v1/accounts', {
        customerId: owner.id,
        username: uniqueName('sip'),
        webPassword: WEB_PASSWORD,
        voipPassword: VOIP_PASSWORD,
        tariffId,
        ...body,
      });
    }

    it('names the field at fault in every bad input', async () => {
      const cases: Array<[Record<string, unknown>, string]> = [
        [{ username: '' }, '/username'],
        [{ username: 'has space' }, '/username'],
        [{ username: 'x'.repeat(65) }, '/username'],
        [{ username: 'ünïcode' }, '/username'],
        [{ username: 42 }, '/username'],
        [{ webPassword: 'short' }, '/webPassword'],
        [{ webPassword: 'x'.repeat(257) }, '/webPassword'],
        [{ voipPassword: 'short12' }, '/voipPassword'],
        [{ voipPassword: 'x'.repeat(129) }, '/voipPassword'],
        [{ tariffId: 'not-a-uuid' }, '/tariffId'],
        [{ timeZone: 'Mars/Olympus' }, '/timeZone'],
        [{ language: 'xx-nope' }, '/language'],
        [{ balance: 5 }, '/balance'],
        [{ balance: '1.123456789' }, '/balance'],
        [{ creditLimit: '-1' }, '/creditLimit'],
        [{ maxSessions: 10001 }, '/maxSessions'],
        [{ maxSessions: -1 }, '/maxSessions'],
        [{ maxSessions: 1.5 }, '/maxSessions'],
        [{ maxSessions: '5' }, '/maxSessions'],
        [{ status: 'suspended' }, '/status'],
        [{ routingGroupId: 'nope' }, '/routingGroupId'],
        [{ routingGroupId: MISSING }, '/routingGroupId'],
        [{ customerId: 'nope' }, '/customerId'],
        [{ webPasswordHash: 'x' }, '/webPasswordHash'],
      ];
      for (const [body, pointer] of cases) {
        const res = await createAccountRaw(a, a, body);
        expectProblem(res, 400);
        expect(res.body.errors.map((e: { pointer: string }) => e.pointer)).toContain(pointer);
      }
      const missing = await a.post('/v1/accounts', {}).expect(400);
      const pointers = missing.body.errors.map((e: { pointer: string }) => e.pointer);
      for (const field of ['/username', '/webPassword', '/voipPassword', '/tariffId']) expect(pointers).toContain(field);
    });

    it('refuses a tariff that the account’s customer does not own', async () => {
      const cases = [await createTariff(root), await createTariff(b), await createTariff(c), MISSING];
      for (const tariffId of cases) {
        const res = await createAccountRaw(a, a, { tariffId });
        expectProblem(res, 400);
        expect(res.body.errors).toEqual([expect.objectContaining({ pointer: '/tariffId' })]);
      }
      const patched = await a.patch(`/v1/accounts/${aAccount.id}`, { tariffId: await createTariff(root) }).expect(400);
      expect(patched.body.errors).toEqual([expect.objectContaining({ pointer: '/tariffId' })]);
    });

    it('keeps usernames unique among live accounts and frees them on delete', async () => {
      const username = uniqueName('dup');
      const first = await createAccount(a, a, { username });
      const again = await createAccountRaw(b, b, { username });
      expectProblem(again, 409);
      expect(again.body).toMatchObject({ type: 'https://canopy.dev/problems/username-taken', errors: [{ pointer: '/username' }] });
      const renamed = await a.patch(`/v1/accounts/${aAccount.id}`, { username }).expect(409);
      expect(renamed.body.errors[0].pointer).toBe('/username');
      const concurrent = await Promise.all([createAccountRaw(b, b, { username: username + 'x' }), createAccountRaw(c, c, { username: username + 'x' })]);
      expect(concurrent.map((r) => r.status).sort()).toEqual([201, 409]);
      await a.delete(`/v1/accounts/${first.id}`).expect(204);
      await a.get(`/v1/accounts/${first.id}`).expect(404);
      await b.post('/v1/accounts', { username, webPassword: WEB_PASSWORD, voipPassword: VOIP_PASSWORD, tariffId: await createTariff(b) }).expect(201);
    });

    it('accepts an Idempotency-Key on create and creates the account once', async () => {
      const key = randomUUID();
      const body = { username: uniqueName('idem'), webPassword: WEB_PASSWORD, voipPassword: VOIP_PASSWORD, tariffId: await createTariff(b) };
      const first = await b.post('/v1/accounts', body).set('Idempotency-Key', key).expect(201);
      const again = await b.post('/v1/accounts', body).set('Idempotency-Key', key).expect(201);
      expect(again.headers['idempotent-replayed']).toBe('true');
      expect(again.body).toEqual(first.body);
      const [row] = await t.dataSource.query(`SELECT count(*)::int AS n FROM accounts WHERE username = $1`, [body.username]);
      expect(row.n).toBe(1);
    });

    it('patches fields, answers ETags and refuses stale If-Match', async () => {
      const account = await createAccount(c, c);
      const stale = await c.patch(`/v1/accounts/${account.id}`, { maxSessions: 5 }).set('If-Match', '"99"');
      expectProblem(stale, 412);
      const [group] = await t.dataSource.query(`INSERT INTO routing_groups (name, policy) VALUES ($1, 'least-cost') RETURNING id`, [uniqueName('rg')]);
      const newTariff = await createTariff(c);
      const res = await c
        .patch(`/v1/accounts/${account.id}`, {
          maxSessions: 5,
          status: 'blocked',
          timeZone: 'Asia/Tokyo',
          language: 'de',
          creditLimit: '3.25',
          tariffId: newTariff,
          routingGroupId: group.id,
          voipPassword: 'new-voip-pass',
          webPassword: 'new-web-pass',
        })
        .set('If-Match', '"1"')
        .expect(200);
      expect(res.body).toMatchObject({
        maxSessions: 5,
        status: 'blocked',
        timeZone: 'Asia/Tokyo',
        language: 'de',
        creditLimit: '3.25',
        availableCredit: '3.25',
        tariffId: newTariff,
        routingGroupId: group.id,
        version: 2,
      });
      expect(res.headers.etag).toBe('"2"');
      expect(JSON.stringify(res.body)).not.toMatch(/new-voip-pass|new-web-pass/);
      const cleared = await c.patch(`/v1/accounts/${account.id}`, { routingGroupId: null }).expect(200);
      expect(cleared.body).toMatchObject({ routingGroupId: null, maxSessions: 5, version: 3 });
      const badGroup = await c.patch(`/v1/accounts/${account.id}`, { routingGroupId: MISSING }).expect(400);
      expect(badGroup.body.errors[0].pointer).toBe('/routingGroupId');
      await c.delete(`/v1/accounts/${account.id}`).set('If-Match', '"2"').expect(412);
      await c.delete(`/v1/accounts/${account.id}`).set('If-Match', '"3"').expect(204);
      await c.patch(`/v1/accounts/${account.id}`, { maxSessions: 2 }).expect(404);
      await c.delete(`/v1/accounts/${account.id}`).expect(404);
    });

    it('refuses balance and customerId in a PATCH, naming the balance operations', async () => {
      const res = await a.patch(`/v1/accounts/${aAccount.id}`, { balance: '100' });
      expectProblem(res, 400);
      expect(res.body.errors).toEqual([{ pointer: '/balance', detail: expect.stringContaining('/v1/accounts/{id}/balance-operations') }]);
      const move = await a.patch(`/v1/accounts/${aAccount.id}`, { customerId: c.id }).expect(400);
      expect(move.body.errors[0].pointer).toBe('/customerId');
      const unknown = await a.patch(`/v1/accounts/${aAccount.id}`, { availableCredit: '5' }).expect(400);
      expect(unknown.body.errors[0].pointer).toBe('/availableCredit');
    });

    it('answers a malformed id with a 400 and an unknown one with a 404', async () => {
      const bad = await a.get('/v1/accounts/not-a-uuid').expect(400);
      expect(bad.body.errors).toEqual([{ parameter: 'id', detail: expect.any(String) }]);
      expectProblem(await a.get(`/v1/accounts/${MISSING}`), 404);
      expectProblem(await a.get(`/v1/accounts?customerId=${MISSING}`), 404);
      expect((await a.get('/v1/accounts?customerId=nope').expect(400)).body.errors[0].parameter).toBe('customerId');
      expect((await a.get('/v1/accounts?scope=all').expect(400)).body.errors[0].parameter).toBe('scope');
    });

    it('needs accounts.create|update|delete, but only once the object is visible', async () => {
      const limited = await restrictedActor(t, c, ['balances.operate']);
      const tariffId = await createTariff(c);
      const create = await limited.post('/v1/accounts', { username: uniqueName('sip'), webPassword: WEB_PASSWORD, voipPassword: VOIP_PASSWORD, tariffId });
      expectProblem(create, 403);
      expect(create.body.permission).toBe('accounts.create');
      const patch = await limited.patch(`/v1/accounts/${cAccount.id}`, { maxSessions: 3 });
      expectProblem(patch, 403);
      expect(patch.body.permission).toBe('accounts.update');
      const del = await limited.delete(`/v1/accounts/${cAccount.id}`);
      expectProblem(del, 403);
      expect(del.body.permission).toBe('accounts.delete');
      // Invisible objects stay 404, permission or not.
      await limited.patch(`/v1/accounts/${aAccount.id}`, { maxSessions: 3 }).expect(404);
      await limited.delete(`/v1/accounts/${bAccount.id}`).expect(404);
      await limited.post('/v1/accounts', { customerId: a.id, username: uniqueName('sip'), webPassword: WEB_PASSWORD, voipPassword: VOIP_PASSWORD, tariffId }).expect(404);
      // The same key may still operate on the balance of its own account.
      await op(limited, cAccount.id, { action: 'credit', amount: '1' }).expect(201);
      const readOnly = await restrictedActor(t, c, []);
      const refused = await op(readOnly, cAccount.id, { action: 'credit', amount: '1' });
      expectProblem(refused, 403);
      expect(refused.body.permission).toBe('balances.operate');
    });

    it('pages through accounts with an opaque cursor and filters by username', async () => {
      const owner = await createCustomer(t, root);
      const tariffId = await createTariff(owner);
      const prefix = uniqueName('page');
      const created: string[] = [];
      for (let i = 0; i < 7; i++) created.push((await createAccount(owner, owner, { tariffId, username: `${prefix}.${i}` })).id);
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const res = await owner.get(`/v1/accounts?limit=3${cursor ? `&cursor=${cursor}` : ''}`).expect(200);
        const page = res.body as { items: Account[]; nextCursor: string | null };
        seen.push(...page.items.map((i) => i.id));
        cursor = page.nextCursor;
        pages++;
      } while (cursor);
      expect(pages).toBe(3);
      expect(seen).toEqual(created);
      const filtered = await owner.get(`/v1/accounts?q=${prefix.toUpperCase()}.3`).expect(200);
      expect(filtered.body.items.map((i: Account) => i.username)).toEqual([`${prefix}.3`]);
      const none = await owner.get(`/v1/accounts?q=%25`).expect(200);
      expect(none.body.items).toEqual([]);
      for (const bad of ['garbage', Buffer.from(JSON.stringify(['2025-02-30T00:00:00.000000Z', MISSING])).toString('base64url')]) {
        const res = await owner.get(`/v1/accounts?cursor=${bad}`).expect(400);
        expect(res.body.errors[0].parameter).toBe('cursor');
      }
      await owner.get('/v1/accounts?limit=201').expect(400);
    });

    it('is reachable through the generated client', async () => {
      const client = createCanopyClient(t.baseUrl, a.token);
      const { data, response } = await client.GET('/v1/accounts/{id}', { params: { path: { id: aAccount.id } } });
      expect(response.status).toBe(200);
      expect(data?.username).toBe(aAccount.username);
      const list = await client.GET('/v1/accounts', { params: { query: { scope: 'subtree' } } });
      expect(list.data?.items.length).toBeGreaterThanOrEqual(3);
    });
  });

  describe('visibility (the seed picture)', () => {
    it('answers D with the same 404 for the accounts of A, B, C and the root as for a missing one', async () => {
      const missing = await d.get(`/v1/accounts/${MISSING}`).expect(404);
      for (const account of [rootAccount, aAccount, bAccount, cAccount]) {
        const res = await d.get(`/v1/accounts/${account.id}`).expect(404);
        expectProblem(res, 404);
        expect({ ...res.body, instance: undefined }).toEqual({ ...missing.body, instance: undefined });
        await d.patch(`/v1/accounts/${account.id}`, { maxSessions: 9 }).expect(404);
        await d.patch(`/v1/accounts/${account.id}`, { balance: '1' }).expect(400); // validation first, as for customers
        await d.delete(`/v1/accounts/${account.id}`).expect(404);
        await op(d, account.id, { action: 'debit', amount: '1' }).expect(404);
        await d.get(`/v1/accounts/${account.id}/balance-operations`).expect(404);
      }
      for (const other of [root, a, b, c]) {
        await d.get(`/v1/accounts?customerId=${other.id}`).expect(404);
        await d.get(`/v1/accounts?customerId=${other.id}&scope=subtree`).expect(404);
        const tariffId = await createTariff(d);
        await d.post('/v1/accounts', { customerId: other.id, username: uniqueName('sip'), webPassword: WEB_PASSWORD, voipPassword: VOIP_PASSWORD, tariffId }).expect(404);
      }
      const still = await root.get(`/v1/accounts/${aAccount.id}`).expect(200);
      expect(still.body.version).toBe((await a.get(`/v1/accounts/${aAccount.id}`).expect(200)).body.version);
    });

    it('shows D only its own accounts in every list', async () => {
      const own = await d.get('/v1/accounts').expect(200);
      expect(own.body.items.map((i: Account) => i.id)).toEqual([dAccount.id]);
      const subtree = await d.get('/v1/accounts?scope=subtree').expect(200);
      expect(subtree.body.items.map((i: Account) => i.id)).toEqual([dAccount.id]);
    });

    it('shows A the accounts of its whole subtree, itself included', async () => {
      const subtree = await a.get('/v1/accounts?scope=subtree&limit=200').expect(200);
      const owners = new Set(subtree.body.items.map((i: Account) => i.customerId));
      expect(owners).toEqual(new Set([a.id, c.id, d.id]));
      for (const account of [cAccount, dAccount]) {
        expect(subtree.body.items.map((i: Account) => i.id)).toContain(account.id);
        await a.get(`/v1/accounts/${account.id}`).expect(200);
      }
      const ofC = await a.get(`/v1/accounts?customerId=${c.id}&limit=200`).expect(200);
      expect(new Set(ofC.body.items.map((i: Account) => i.customerId))).toEqual(new Set([c.id]));
      const underC = await a.get(`/v1/accounts?customerId=${c.id}&scope=subtree&limit=200`).expect(200);
      expect(new Set(underC.body.items.map((i: Account) => i.customerId))).toEqual(new Set([c.id, d.id]));
      const own = await a.get('/v1/accounts?limit=200').expect(200);
      expect(new Set(own.body.items.map((i: Account) => i.customerId))).toEqual(new Set([a.id]));
    });

    it('shows B none of A’s accounts', async () => {
      for (const account of [aAccount, cAccount, dAccount, rootAccount]) await b.get(`/v1/accounts/${account.id}`).expect(404);
      const subtree = await b.get('/v1/accounts?scope=subtree&limit=200').expect(200);
      expect(new Set(subtree.body.items.map((i: Account) => i.customerId))).toEqual(new Set([b.id]));
    });

    it('lets a customer manage its own accounts and shows the root every account', async () => {
      await d.patch(`/v1/accounts/${dAccount.id}`, { maxSessions: 4 }).expect(200);
      await op(d, dAccount.id, { action: 'add_funds', amount: '2' }).expect(201);
      const all = await root.get('/v1/accounts?scope=subtree&limit=200').expect(200);
      const ids = all.body.items.map((i: Account) => i.id);
      for (const account of [rootAccount, aAccount, bAccount, cAccount, dAccount]) expect(ids).toContain(account.id);
    });
  });

  describe('balance operations', () => {
    it('applies add_funds, credit and debit with exact decimal strings; the ledger sums to the balance', async () => {
      const account = await createAccount(a, c, { balance: '10.10' });
      const added = await op(a, account.id, { action: 'add_funds', amount: '0.1', notes: 'card top-up' }).expect(201);
      expect(added.body).toMatchObject({
        action: 'add_funds',
        amount: '0.10',
        currency: 'USD',
        exchangeRate: '1.0',
        convertedAmount: '0.10',
        balanceAfter: '10.20',
        notes: 'card top-up',
        actor: a.id,
      });
      await op(c, account.id, { action: 'credit', amount: '0.2' }).expect(201);
      const debit = await op(root, account.id, { action: 'debit', amount: '0.00000001' }).expect(201);
      expect(debit.body).toMatchObject({ convertedAmount: '-0.00000001', balanceAfter: '10.39999999' });
      const got = await c.get(`/v1/accounts/${account.id}`).expect(200);
      expect(got.body).toMatchObject({ balance: '10.39999999', availableCredit: '10.39999999', version: 4 });
      const sums = await ledgerSum(t, account.id);
      expect(new Big(sums.balance).eq(sums.sum)).toBe(true);
      expect(sums.entries).toBe(4);
      // The customer sees its parent's and the root's entries with the actor hidden (SPEC §6).
      const ledger = await c.get(`/v1/accounts/${account.id}/balance-operations`).expect(200);
      expect(ledger.body.items.map((e: { action: string; actor: string | null }) => [e.action, e.actor])).toEqual([
        ['debit', null],
        ['credit', c.id],
        ['add_funds', null],
        ['opening_balance', null],
      ]);
      const debits = await a.get(`/v1/accounts/${account.id}/balance-operations?action=debit`).expect(200);
      expect(debits.body.items).toHaveLength(1);
    });

    it('refuses a debit beyond the available credit with 422 carrying availableCredit, unless overdraft is allowed', async () => {
      const account = await createAccount(c, c, { creditLimit: '5' });
      const refused = await op(c, account.id, { action: 'debit', amount: '6' });
      expectProblem(refused, 422);
      expect(refused.body).toMatchObject({ type: 'https://canopy.dev/problems/insufficient-funds', availableCredit: '5.00' });
      const allowed = await op(c, account.id, { action: 'debit', amount: '6', allowOverdraft: true }).expect(201);
      expect(allowed.body.balanceAfter).toBe('-6.00');
      const missingKey = await c.post(`/v1/accounts/${account.id}/balance-operations`, { action: 'credit', amount: '1' }).expect(400);
      expect(missingKey.body.errors[0].parameter).toBe('Idempotency-Key');
      const numeric = await op(c, account.id, { action: 'credit', amount: 1 }).expect(400);
      expect(numeric.body.errors[0].pointer).toBe('/amount');
    });

    it('lets exactly as many concurrent debits through as the available credit covers', async () => {
      const account = await createAccount(a, a, { balance: '4.00', creditLimit: '6.00' });
      const results = await Promise.all(Array.from({ length: 25 }, () => op(a, account.id, { action: 'debit', amount: '1.00' })));
      expect(results.filter((r) => r.status === 201)).toHaveLength(10);
      const refused = results.filter((r) => r.status === 422);
      expect(refused).toHaveLength(15);
      for (const r of refused) expect(r.body.availableCredit).toBe('0.00');
      const sums = await ledgerSum(t, account.id);
      expect(sums).toMatchObject({ balance: '-6.00000000', entries: 11 });
      expect(new Big(sums.sum).toFixed(8)).toBe('-6.00000000');
    });

    it('replays a retried request instead of applying it twice', async () => {
      const account = await createAccount(a, a);
      const key = randomUUID();
      const body = { action: 'add_funds', amount: '7.77' };
      const results = await Promise.all(Array.from({ length: 5 }, () => op(a, account.id, body, key)));
      for (const r of results) {
        expect(r.status).toBe(201);
        expect(r.body).toEqual(results[0].body);
      }
      expect(results.filter((r) => r.headers['idempotent-replayed'] === 'true')).toHaveLength(4);
      expect(await ledgerSum(t, account.id)).toMatchObject({ balance: '7.77000000', entries: 1 });
      const other = await op(a, account.id, { action: 'add_funds', amount: '7.78' }, key).expect(422);
      expect(other.body.type).toBe('https://canopy.dev/problems/idempotency-key-reused');
    });

    it('converts with the owning customer’s table into the customer’s base currency', async () => {
      const euro = await createCustomer(t, root, { baseCurrency: 'EUR' });
      const account = await createAccount(root, euro);
      expect(account.currency).toBe('EUR');
      expect(account.display).toEqual({ currency: 'USD', balance: null, creditLimit: null });
      await root.put('/v1/exchange-rates/GBP', { rate: '1.3' }).expect(200); // the root's table is not used
      await euro.put('/v1/exchange-rates/USD', { rate: '0.9' }).expect(200);
      const res = await op(root, account.id, { action: 'add_funds', amount: '10', currency: 'USD' }).expect(201);
      expect(res.body).toMatchObject({ amount: '10.00', currency: 'USD', exchangeRate: '0.9', convertedAmount: '9.00', balanceAfter: '9.00' });
      const missing = await op(root, account.id, { action: 'add_funds', amount: '10', currency: 'GBP' });
      expectProblem(missing, 422);
      expect(missing.body).toMatchObject({ type: 'https://canopy.dev/problems/missing-exchange-rate', currency: 'GBP' });
      await root.put('/v1/exchange-rates/EUR', { rate: '1.1' }).expect(200);
      const shown = await root.get(`/v1/accounts/${account.id}`).expect(200);
      expect(shown.body).toMatchObject({ balance: '9.00', currency: 'EUR', display: { currency: 'USD', balance: '9.90', creditLimit: '0.00' } });
      const ownView = await euro.get(`/v1/accounts/${account.id}`).expect(200);
      expect(ownView.body.display).toEqual({ currency: 'EUR', balance: '9.00', creditLimit: '0.00' });
    });

    it('refuses operations on a deleted account', async () => {
      const account = await createAccount(c, c);
      await c.delete(`/v1/accounts/${account.id}`).expect(204);
      await op(c, account.id, { action: 'credit', amount: '1' }).expect(404);
      await c.get(`/v1/accounts/${account.id}/balance-operations`).expect(404);
    });
  });

  describe('what accounts block', () => {
    it('refuses to delete a customer while it has a live account', async () => {
      const owner = await createCustomer(t, a);
      const account = await createAccount(owner, owner);
      const res = await a.delete(`/v1/customers/${owner.id}`);
      expectProblem(res, 409);
      expect(res.body).toMatchObject({ type: 'https://canopy.dev/problems/customer-not-empty', subCustomers: 0, accounts: 1 });
      await owner.delete(`/v1/accounts/${account.id}`).expect(204);
      await a.delete(`/v1/customers/${owner.id}`).expect(204);
    });

    it('refuses to delete a tariff assigned to a live account, and deletes it once the account is gone', async () => {
      const tariffId = await createTariff(c);
      const account = await createAccount(c, c, { tariffId });
      const res = await c.delete(`/v1/tariffs/${tariffId}`);
      expectProblem(res, 409);
      expect(res.body).toMatchObject({ type: 'https://canopy.dev/problems/tariff-in-use', customers: 0, accounts: 1 });
      await c.delete(`/v1/accounts/${account.id}`).expect(204);
      await c.delete(`/v1/tariffs/${tariffId}`).expect(204);
    });
  });

  describe('audit events', () => {
    it('records create, update, delete and balance operations with secrets masked, visible from the owner upwards', async () => {
      const account = await createAccount(d, d, { balance: '1' });
      await d.patch(`/v1/accounts/${account.id}`, { voipPassword: 'changed-voip-1', webPassword: 'changed-web-1', maxSessions: 7 }).expect(200);
      await op(c, account.id, { action: 'credit', amount: '2' }).expect(201);
      await d.delete(`/v1/accounts/${account.id}`).expect(204);
      const res = await a.get(`/v1/audit-events?targetId=${account.id}&limit=200`).expect(200);
      const events = res.body.items as Array<{ action: string; targetType: string; actor: string | null; changes: Record<string, Record<string, unknown> | null> }>;
      expect(events.map((e) => e.action)).toEqual(['account.delete', 'account.update', 'account.create']);
      for (const e of events) expect(e.targetType).toBe('account');
      const [deleted, updated, created] = events;
      expect(created.changes.after).toMatchObject({ username: account.username, customerId: d.id, balance: '1.00', webPassword: '***', voipPassword: '***' });
      expect(updated.changes.before).toMatchObject({ maxSessions: 1 });
      expect(updated.changes.after).toMatchObject({ maxSessions: 7, webPassword: '***', voipPassword: '***' });
      expect(deleted.changes.after).toBeNull();
      const text = JSON.stringify(res.body);
      for (const secret of [WEB_PASSWORD, VOIP_PASSWORD, 'changed-voip-1', 'changed-web-1', '$argon2']) expect(text).not.toContain(secret);
      const balanceEvents = await d.get('/v1/audit-events?targetType=balance-operation&limit=200').expect(200);
      expect(balanceEvents.body.items).toEqual(
        expect.arrayContaining([expect.objectContaining({ action: 'balance.credit', actor: null, changes: expect.objectContaining({ after: expect.objectContaining({ accountId: account.id }) }) })]),
      );
      const fromB = await b.get(`/v1/audit-events?targetId=${account.id}`).expect(200);
      expect(fromB.body.items).toEqual([]);
    });
  });
});
