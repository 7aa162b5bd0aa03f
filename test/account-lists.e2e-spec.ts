import fc from 'fast-check';
import { Actor, createAccount, createCustomer, createTariff, expectBadField, expectProblem, loginRoot, uniqueName } from './setup/factories';
import { expectBadParameter, expectStableWalk, LIST_SORTS as SORTS, ListItem, listOrder, resellerWithTariff, sortedIds as ids, walkPages } from './setup/lists';
import { startTestApp, TestApp } from './setup/test-app';

interface Item extends ListItem {
  customerId: string;
  username: string;
}

/** The order a sort promises (`name`: the username), the id breaking ties. */
const compare = (sort: string) => listOrder<Item>(sort, (i) => i.username);

/** Account lists (SPEC §15): externalId and metadata, filters, sorts with stable cursor pages, and their 400s. */
describe('account lists', () => {
  let t: TestApp;
  let reseller: Actor;
  let sub: Actor;
  const tariffs = new Map<string, string>();
  let counter = 0;

  async function tariffOf(customer: Actor): Promise<string> {
    if (!tariffs.has(customer.id)) tariffs.set(customer.id, await createTariff(customer));
    return tariffs.get(customer.id)!;
  }

  /** An account of `customer`, created by `actor`; lowercase usernames, so that every collation orders them alike. */
  async function account(actor: Actor, customer: Actor, body: Record<string, unknown> = {}): Promise<Item> {
    const username = `u${String(1000 + ((counter++ * 7919) % 9000))}${uniqueName('x').slice(2)}`;
    return createAccount<Item>(actor, customer, { username, tariffId: await tariffOf(customer), creditLimit: '5', ...body });
  }

  const all = (actor: Actor, query: string) => walkPages<Item>(actor, `/v1/accounts?${query}&limit=200`);

  beforeAll(async () => {
    t = await startTestApp();
    let tariff: string;
    ({ reseller, tariff } = await resellerWithTariff(t));
    tariffs.set(reseller.id, tariff);
    sub = await createCustomer(t, reseller, { tariffId: await tariffOf(reseller) });
  });
  afterAll(() => t.close());

  describe('externalId and metadata', () => {
    it('are written on create and PATCH and shown on the account, in lists and after clearing', async () => {
      const created = await account(reseller, reseller, { externalId: 'acc-1', metadata: { iccid: '8901', batch: 'b7' } });
      expect(created).toMatchObject({ externalId: 'acc-1', metadata: { iccid: '8901', batch: 'b7' } });
      expect((await reseller.get(`/v1/accounts/${created.id}`).expect(200)).body).toMatchObject({ externalId: 'acc-1', metadata: { batch: 'b7' } });
      expect((await all(reseller, 'externalId=acc-1'))[0]).toMatchObject({ id: created.id, metadata: { iccid: '8901' } });
      const patched = await reseller.patch(`/v1/accounts/${created.id}`, { externalId: 'acc-1b', metadata: { batch: 'b8' } }).expect(200);
      expect(patched.body).toMatchObject({ externalId: 'acc-1b' });
      expect(patched.body.metadata).toEqual({ batch: 'b8' });
      const cleared = await reseller.patch(`/v1/accounts/${created.id}`, { externalId: null, metadata: {} }).expect(200);
      expect(cleared.body).toMatchObject({ externalId: null, metadata: {} });
      await reseller.patch(`/v1/accounts/${created.id}`, { metadata: { a: 'b' } }).expect(200);
      const nulled = await reseller.patch(`/v1/accounts/${created.id}`, { metadata: null });
      expect(nulled.status).toBe(200);
      expect(nulled.body.metadata).toEqual({});
      expect((await account(reseller, reseller)).metadata).toEqual({});
    });

    it('refuses an externalId another live account of the same customer has: 409 naming it; other customers may use it', async () => {
      const first = await account(reseller, sub, { externalId: 'same' });
      const before = (await all(reseller, `customerId=${sub.id}`)).length;
      const res = await reseller.post('/v1/accounts', {
        customerId: sub.id,
        username: uniqueName('u'),
        webPassword: 'web-password-1',
        voipPassword: 'voip-password-1',
        tariffId: await tariffOf(sub),
        externalId: 'same',
      });
      expect(res.status).toBe(409);
      expectProblem(res, 409);
      expect(res.body.type).toMatch(/external-id-taken$/);
      expect(res.body.existingId).toBe(first.id);
      expect((await all(reseller, `customerId=${sub.id}`)).length).toBe(before);
      const second = await account(reseller, sub, { externalId: 'other' });
      const patch = await sub.patch(`/v1/accounts/${second.id}`, { externalId: 'same' });
      expect(patch.status).toBe(409);
      expect(patch.body.existingId).toBe(first.id);
      await account(reseller, reseller, { externalId: 'same' }); // another customer
      await reseller.delete(`/v1/accounts/${first.id}`).expect(204);
      await sub.patch(`/v1/accounts/${second.id}`, { externalId: 'same' }).expect(200);
    });

    it('refuses metadata over the limits with a 400 naming /metadata, writing nothing', async () => {
      const before = (await all(reseller, 'scope=subtree')).length;
      for (const metadata of [Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, 'v'])), { 'a b': 'v' }, { k: 'v'.repeat(501) }, 'text']) {
        const res = await reseller.post('/v1/accounts', {
          username: uniqueName('u'),
          webPassword: 'web-password-1',
          voipPassword: 'voip-password-1',
          tariffId: await tariffOf(reseller),
          metadata,
        });
        expectBadField(res, '/metadata');
      }
      expect((await all(reseller, 'scope=subtree')).length).toBe(before);
    });
  });

  describe('filters', () => {
    let owner: Actor;
    let child: Actor;
    let rows: Item[];
    let deep: Item;

    beforeAll(async () => {
      owner = await createCustomer(t, reseller, { tariffId: await tariffOf(reseller) });
      child = await createCustomer(t, owner, { tariffId: await tariffOf(owner) });
      rows = [
        await account(owner, owner, { balance: '2', metadata: { plan: 'pro', site: 'a' }, externalId: 'e-1' }),
        await account(owner, owner, { balance: '0', metadata: { plan: 'pro', site: 'b' } }),
        await account(owner, owner, { balance: '-1', status: 'blocked', metadata: { plan: 'free' } }),
      ];
      deep = await account(owner, child, { balance: '0.25', externalId: 'e-1', metadata: { plan: 'pro', site: 'a' } });
    });

    it('filter by status, balanceBelow, externalId and metadata in own, ?customerId and subtree lists', async () => {
      expect(ids(await all(owner, 'status=blocked'))).toEqual([rows[2].id]);
      expect(ids(await all(reseller, `customerId=${owner.id}&status=blocked`))).toEqual([rows[2].id]);
      expect(ids(await all(owner, 'balanceBelow=0.00000001'))).toEqual(ids([rows[1], rows[2]]));
      expect(ids(await all(owner, 'scope=subtree&balanceBelow=1'))).toEqual(ids([rows[1], rows[2], deep]));
      expect(ids(await all(owner, 'externalId=e-1'))).toEqual([rows[0].id]);
      expect(ids(await all(reseller, `customerId=${owner.id}&scope=subtree&externalId=e-1`))).toEqual(ids([rows[0], deep]));
      expect(ids(await all(owner, 'metadata[plan]=pro'))).toEqual(ids([rows[0], rows[1]]));
      expect(ids(await all(owner, 'scope=subtree&metadata[plan]=pro&metadata[site]=a'))).toEqual(ids([rows[0], deep]));
      expect(ids(await all(owner, 'scope=subtree&metadata[plan]=pro&metadata[site]=a&balanceBelow=1&status=active'))).toEqual([deep.id]);
      expect(await all(owner, 'metadata[plan]=enterprise')).toEqual([]);
    });

    it('filter by creation time', async () => {
      const sorted = await all(owner, 'scope=subtree&sort=createdAt');
      const pivot = sorted[2];
      expect(ids(await all(owner, `scope=subtree&createdFrom=${encodeURIComponent(pivot.createdAt)}`))).toEqual(ids(sorted.slice(2)));
      expect(ids(await all(owner, `scope=subtree&createdTo=${encodeURIComponent(pivot.createdAt)}`))).toEqual(ids(sorted.slice(0, 2)));
      expect(
        ids(await all(owner, `scope=subtree&createdFrom=${encodeURIComponent(sorted[1].createdAt)}&createdTo=${encodeURIComponent(pivot.createdAt)}`)),
      ).toEqual([sorted[1].id]);
    });
  });

  describe('sorts', () => {
    let owner: Actor;

    beforeAll(async () => {
      owner = await createCustomer(t, reseller, { tariffId: await tariffOf(reseller) });
      const below = await createCustomer(t, owner, { tariffId: await tariffOf(owner) });
      for (const balance of ['3', '1', '3', '0', '-1', '7.25', '1', '2.5']) await account(owner, owner, { balance });
      for (const balance of ['1', '4', '0']) await account(owner, below, { balance });
    });

    for (const sort of SORTS) {
      for (const scope of ['own', 'subtree']) {
        it(`sort=${sort} (${scope}): in order, and pages of any size concatenate to the whole`, async () => {
          const whole = await all(owner, `scope=${scope}&sort=${sort}`);
          expect(whole.length).toBeGreaterThan(5);
          expect(whole).toEqual([...whole].sort(compare(sort)));
          for (const limit of [1, 3]) {
            const paged = await walkPages<Item>(owner, `/v1/accounts?scope=${scope}&sort=${sort}&limit=${limit}`, (items) => expect(items.length).toBeLessThanOrEqual(limit));
            expect(paged.map((i) => i.id)).toEqual(whole.map((i) => i.id));
          }
        });
      }
    }

    it('keeps oldest first without sort', async () => {
      const whole = await all(owner, 'scope=subtree');
      expect(whole).toEqual([...whole].sort(compare('createdAt')));
    });

    it('pages stay stable when accounts are added between page fetches (property)', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...SORTS),
          fc.constantFrom('own', 'subtree'),
          fc.integer({ min: 1, max: 4 }),
          fc.array(fc.constantFrom('-2', '0', '1', '3', '9'), { minLength: 1, maxLength: 3 }),
          async (sort, scope, limit, inserted) => {
            const before = await all(owner, `scope=${scope}&sort=${sort}`);
            const inserts = [...inserted];
            const seen = await walkPages<Item>(owner, `/v1/accounts?scope=${scope}&sort=${sort}&limit=${limit}`, async () => {
              if (inserts.length) await account(owner, owner, { balance: inserts.shift()! });
            });
            expectStableWalk(seen, before, compare(sort));
          },
        ),
        { numRuns: 8 },
      );
    });
  });

  describe('bad input', () => {
    const bad = (query: string, parameter: string) => expectBadParameter(reseller, `/v1/accounts?${query}`, parameter);

    it('answers 400 naming the parameter', async () => {
      await bad('sort=username', 'sort');
      await bad('sort=-', 'sort');
      const unknown = await bad('username=abc', 'username');
      expect(unknown.body.errors[0].detail).toMatch(/not a parameter of this list/);
      await bad('parentId=8c0bd3c2-4f6e-4a4e-9b39-5f4a9f4f0c11', 'parentId'); // a customers parameter
      await bad('status=suspended', 'status'); // a customer status, not an account's
      await bad('createdFrom=2026-13-01T00:00:00Z', 'createdFrom');
      await bad('createdTo=2026-01-01 00:00:00', 'createdTo');
      await bad('balanceBelow=%2B1', 'balanceBelow');
      await bad('metadata=x', 'metadata');
      await bad('metadata[]=x', 'metadata[]');
      await bad('metadata[a%20b]=x', 'metadata[a b]');
    });

    it('answers 400 naming cursor for a cursor of another sort', async () => {
      const owner = await createCustomer(t, reseller, { tariffId: await tariffOf(reseller) });
      for (let i = 0; i < 3; i++) await account(owner, owner);
      const byBalance = await owner.get('/v1/accounts?sort=balance&limit=1').expect(200);
      const byDefault = await owner.get('/v1/accounts?limit=1').expect(200);
      const res = await owner.get(`/v1/accounts?sort=-balance&limit=1&cursor=${byBalance.body.nextCursor}`);
      expect(res.status).toBe(400);
      expect(res.body.errors).toEqual([{ parameter: 'cursor', detail: 'cursor is not a cursor this list issued' }]);
      expect((await owner.get(`/v1/accounts?sort=createdAt&limit=1&cursor=${byDefault.body.nextCursor}`)).status).toBe(400);
      expect((await owner.get(`/v1/accounts?sort=name&limit=1&cursor=${byBalance.body.nextCursor}`)).status).toBe(400);
      await owner.get(`/v1/accounts?sort=balance&limit=1&cursor=${byBalance.body.nextCursor}`).expect(200);
    });
  });

  it('is an expensive endpoint: limited per caller (429 with Retry-After past RATE_LIMIT_EXPENSIVE_PER_MINUTE)', async () => {
    const limited = await startTestApp({ RATE_LIMIT_EXPENSIVE_PER_MINUTE: '3' });
    try {
      const r = await loginRoot(limited);
      for (let i = 0; i < 3; i++) await r.get('/v1/accounts?scope=subtree&sort=-balance').expect(200);
      const res = await r.get('/v1/accounts?scope=subtree&sort=-balance');
      expect(res.status).toBe(429);
      expectProblem(res, 429);
      expect(res.headers['retry-after']).toBeDefined();
    } finally {
      await limited.close();
    }
  });
});
