import fc from 'fast-check';
import Big from 'big.js';
import { Actor, createCustomer, createTariff, customerBody, expectBadField, expectProblem, uniqueName } from './setup/factories';
import { expectBadParameter, expectStableWalk, LIST_SORTS as SORTS, ListItem, listOrder, resellerWithTariff, sortedIds as ids, walkPages } from './setup/lists';
import { startTestApp, TestApp } from './setup/test-app';

interface Item extends ListItem {
  name: string;
}

const compare = (sort: string) => listOrder<Item>(sort, (i) => i.name);

/** Customer lists (SPEC §15): externalId and metadata, filters, sorts with stable cursor pages, and their 400s. */
describe('customer lists', () => {
  let t: TestApp;
  let root: Actor;
  let reseller: Actor;
  let tariff: string;
  let nameCounter = 0;

  /** Creates a child of `parent` directly (no login), names lowercase so that every collation orders them alike. */
  async function child(parent: Actor | { post: Actor['post'] }, body: Record<string, unknown> = {}, parentTariff = tariff): Promise<Item> {
    const res = await parent.post('/v1/customers', {
      name: `n${String(1000 + (nameCounter++ * 7919) % 9000)}${uniqueName('x').slice(2)}`,
      tariffId: parentTariff,
      webLogin: uniqueName('login'),
      webPassword: 'password-123',
      ...body,
    });
    if (res.status !== 201) throw new Error(`customer: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  }

  const all = (actor: Actor, query: string) => walkPages<Item>(actor, `/v1/customers?${query}&limit=200`);

  beforeAll(async () => {
    t = await startTestApp();
    ({ root, reseller, tariff } = await resellerWithTariff(t));
  });
  afterAll(() => t.close());

  describe('externalId and metadata', () => {
    it('are written on create and PATCH and shown in every representation', async () => {
      const created = await child(reseller, { externalId: 'crm-1', metadata: { crmId: 'C-1', segment: 'retail' } });
      expect(created).toMatchObject({ externalId: 'crm-1', metadata: { crmId: 'C-1', segment: 'retail' } });
      expect((await reseller.get(`/v1/customers/${created.id}`).expect(200)).body).toMatchObject({ externalId: 'crm-1', metadata: { crmId: 'C-1' } });
      const listed = (await all(reseller, 'externalId=crm-1'))[0];
      expect(listed).toMatchObject({ id: created.id, externalId: 'crm-1', metadata: { crmId: 'C-1', segment: 'retail' } });

      const patched = await reseller.patch(`/v1/customers/${created.id}`, { externalId: 'crm-2', metadata: { crmId: 'C-2' } }).expect(200);
      expect(patched.body).toMatchObject({ externalId: 'crm-2', metadata: { crmId: 'C-2' } });
      expect(patched.body.metadata).toEqual({ crmId: 'C-2' }); // replaced, not merged
      const cleared = await reseller.patch(`/v1/customers/${created.id}`, { externalId: null, metadata: {} }).expect(200);
      expect(cleared.body).toMatchObject({ externalId: null, metadata: {} });
      // metadata: null clears it too (as {}); externalId accepts null on create.
      await reseller.patch(`/v1/customers/${created.id}`, { metadata: { a: 'b' } }).expect(200);
      const nulled = await reseller.patch(`/v1/customers/${created.id}`, { metadata: null });
      expect(nulled.status).toBe(200);
      expect(nulled.body.metadata).toEqual({});
      expect((await child(reseller, { externalId: null, metadata: null })).metadata).toEqual({});
    });

    it('answers metadata {} and externalId null when none was given, also on /v1/me', async () => {
      const plain = await child(reseller);
      expect(plain).toMatchObject({ externalId: null, metadata: {} });
      expect((await reseller.get('/v1/me').expect(200)).body).toMatchObject({ externalId: null, metadata: {} });
    });

    it('refuses a sibling’s externalId with 409 external-id-taken naming it; another parent may use it; a deleted one frees it', async () => {
      const first = await child(reseller, { externalId: 'dup-1' });
      const before = (await all(reseller, 'scope=subtree')).length;
      const res = await reseller.post('/v1/customers', customerBody(tariff, { externalId: 'dup-1' }));
      expect(res.status).toBe(409);
      expectProblem(res, 409);
      expect(res.body.type).toMatch(/external-id-taken$/);
      expect(res.body.existingId).toBe(first.id);
      expect(res.body.errors).toEqual([{ pointer: '/externalId', detail: 'externalId is already in use' }]);
      expect((await all(reseller, 'scope=subtree')).length).toBe(before); // nothing written

      const other = await child(reseller, { externalId: 'dup-2' });
      const patch = await reseller.patch(`/v1/customers/${other.id}`, { externalId: 'dup-1' });
      expect(patch.status).toBe(409);
      expect(patch.body.existingId).toBe(first.id);
      // The same id under another parent is fine.
      const elsewhere = await root.post('/v1/customers', customerBody(await createTariff(root), { externalId: 'dup-1' }));
      expect(elsewhere.status).toBe(201);
      // Deleting the holder frees it.
      await reseller.delete(`/v1/customers/${first.id}`).expect(204);
      await reseller.patch(`/v1/customers/${other.id}`, { externalId: 'dup-1' }).expect(200);
    });

    it('refuses metadata over the limits and a too-long externalId with 400s naming the pointer, writing nothing', async () => {
      const before = (await all(reseller, 'scope=subtree')).length;
      const tooMany = Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, 'v']));
      const cases: Array<[Record<string, unknown>, string]> = [
        [{ metadata: tooMany }, '/metadata'],
        [{ metadata: { ['k'.repeat(41)]: 'v' } }, '/metadata'],
        [{ metadata: { 'bad key': 'v' } }, '/metadata'],
        [{ metadata: { k: 'v'.repeat(501) } }, '/metadata'],
        [{ metadata: { k: 1 } }, '/metadata'],
        [{ metadata: ['a'] }, '/metadata'],
        [{ externalId: 'x'.repeat(129) }, '/externalId'],
        [{ externalId: '' }, '/externalId'],
      ];
      for (const [body, pointer] of cases) {
        expectBadField(await reseller.post('/v1/customers', customerBody(tariff, body)), pointer);
      }
      expect((await all(reseller, 'scope=subtree')).length).toBe(before);
    });
  });

  describe('filters', () => {
    let parent: Actor;
    let ptariff: string;
    let rows: Item[];
    let grand: Item;
    let subId: string;

    beforeAll(async () => {
      parent = await createCustomer(t, reseller, { balance: '0' });
      ptariff = await createTariff(parent);
      rows = [];
      rows.push(await child(parent, { balance: '1.50', metadata: { tier: 'gold', region: 'eu' }, externalId: 'f-1' }, ptariff));
      rows.push(await child(parent, { balance: '10', metadata: { tier: 'gold', region: 'us' } }, ptariff));
      rows.push(await child(parent, { balance: '-2', creditLimit: '5', status: 'suspended', metadata: { tier: 'silver' } }, ptariff));
      rows.push(await child(parent, {}, ptariff));
      const sub = await createCustomer(t, parent, { tariffId: ptariff, metadata: { tier: 'gold', region: 'eu' } });
      subId = sub.id;
      grand = await child(sub, { balance: '0.5', externalId: 'f-1', metadata: { tier: 'gold', region: 'eu' } }, await createTariff(sub));
    });

    it('filter by status, balanceBelow, externalId and metadata in children, ?parentId and subtree lists', async () => {
      expect(ids(await all(parent, 'status=suspended'))).toEqual([rows[2].id]);
      expect(ids(await all(reseller, `parentId=${parent.id}&status=suspended`))).toEqual([rows[2].id]);
      expect(ids(await all(parent, 'balanceBelow=1.5'))).toEqual([rows[2].id, rows[3].id, subId].sort());
      expect(ids(await all(parent, 'balanceBelow=-1.99999999'))).toEqual([rows[2].id]);
      expect(ids(await all(parent, 'externalId=f-1'))).toEqual([rows[0].id]);
      expect(ids(await all(parent, 'externalId=f-1&scope=subtree'))).toEqual(ids([rows[0], grand]));
      expect(ids(await all(parent, 'metadata[tier]=gold'))).toEqual([rows[0].id, rows[1].id, subId].sort());
      expect(ids(await all(parent, 'metadata[tier]=gold&metadata[region]=eu'))).toEqual([rows[0].id, subId].sort());
      const subtreeGoldEu = await all(parent, 'scope=subtree&metadata[tier]=gold&metadata[region]=eu');
      expect(subtreeGoldEu).toHaveLength(3); // rows[0], the sub-customer, its child
      expect(subtreeGoldEu.map((i) => i.id)).toEqual(expect.arrayContaining([rows[0].id, grand.id]));
      expect(await all(parent, 'metadata[tier]=platinum')).toEqual([]);
      // A key that is special in JavaScript is still a key to filter on (not silently dropped).
      expect(await all(parent, 'metadata[__proto__]=x')).toEqual([]);
      expect(await all(parent, 'metadata[constructor]=x')).toEqual([]);
      // Several filters at once, through ?parentId: rows[3] (0), the sub-customer (0) and its child (0.5).
      const lowActive = await all(reseller, `parentId=${parent.id}&scope=subtree&balanceBelow=1&status=active`);
      expect(lowActive).toHaveLength(3);
      expect(lowActive.map((i) => i.id)).toEqual(expect.arrayContaining([rows[3].id, grand.id]));
      expect(lowActive.every((i) => new Big(i.balance).lt(1) && i.status === 'active')).toBe(true);
    });

    it('filter by creation time (createdFrom inclusive, createdTo exclusive, any zone)', async () => {
      const sorted = (await all(parent, 'sort=createdAt')).map((i) => i);
      const pivot = sorted[1];
      const from = await all(parent, `createdFrom=${encodeURIComponent(pivot.createdAt)}`);
      expect(ids(from)).toEqual(ids(sorted.slice(1)));
      const to = await all(parent, `createdTo=${encodeURIComponent(pivot.createdAt)}`);
      expect(ids(to)).toEqual(ids(sorted.slice(0, 1)));
      // The same instant written in another zone: +02:00, encoded, and unencoded (a space).
      const shifted = new Date(new Date(pivot.createdAt).getTime() + 2 * 3600_000).toISOString().replace('Z', '').replace(/(\.\d{3})\d*$/, '$1');
      const micro = pivot.createdAt.match(/\.(\d+)Z$/)?.[1] ?? '000';
      const local = `${shifted.slice(0, 19)}.${micro}+02:00`;
      expect(ids(await all(parent, `createdFrom=${encodeURIComponent(local)}`))).toEqual(ids(sorted.slice(1)));
      expect(ids(await all(parent, `createdFrom=${local}`))).toEqual(ids(sorted.slice(1)));
      expect(await all(parent, 'createdFrom=2100-01-01T00:00:00Z')).toEqual([]);
    });
  });

  describe('sorts', () => {
    let parent: Actor;
    let ptariff: string;

    beforeAll(async () => {
      parent = await createCustomer(t, reseller);
      ptariff = await createTariff(parent);
      const balances = ['3', '1', '3', '0', '-1', '7.25', '1', '2.5', '0', '3'];
      for (const balance of balances) await child(parent, { balance, creditLimit: '5' }, ptariff);
      const sub = await createCustomer(t, parent, { tariffId: ptariff });
      const subTariff = await createTariff(sub);
      for (const balance of ['1', '4', '1']) await child(sub, { balance }, subTariff);
    });

    for (const sort of SORTS) {
      for (const scope of ['children', 'subtree']) {
        it(`sort=${sort} (${scope}): the whole list is in order, and pages of any size concatenate to it`, async () => {
          const whole = await all(parent, `scope=${scope}&sort=${sort}`);
          expect(whole.length).toBeGreaterThan(5);
          expect(whole).toEqual([...whole].sort(compare(sort)));
          for (const limit of [1, 3, 4]) {
            const paged = await walkPages<Item>(parent, `/v1/customers?scope=${scope}&sort=${sort}&limit=${limit}`, (items) => expect(items.length).toBeLessThanOrEqual(limit));
            expect(paged.map((i) => i.id)).toEqual(whole.map((i) => i.id));
          }
        });
      }
    }

    it('keeps the default tree order without sort', async () => {
      const whole = await all(parent, 'scope=subtree');
      const sortedAgain = await all(parent, 'scope=subtree');
      expect(whole.map((i) => i.id)).toEqual(sortedAgain.map((i) => i.id));
      expect(whole.map((i) => i.id)).not.toEqual([]);
    });

    it('pages stay stable when customers are added between page fetches (property)', async () => {
      const p = await createCustomer(t, reseller);
      const pt = await createTariff(p);
      for (let i = 0; i < 6; i++) await child(p, { balance: String(i % 3) }, pt);
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...SORTS),
          fc.integer({ min: 1, max: 4 }),
          fc.array(fc.constantFrom('-3', '0', '1', '2', '9'), { minLength: 1, maxLength: 3 }),
          async (sort, limit, inserted) => {
            const before = await all(p, `sort=${sort}`);
            const inserts = [...inserted];
            // Rows added mid-walk (before, inside or after the pages seen) never shift the rest.
            const seen = await walkPages<Item>(p, `/v1/customers?sort=${sort}&limit=${limit}`, async () => {
              if (inserts.length) await child(p, { balance: inserts.shift()!, creditLimit: '5' }, pt);
            });
            while (inserts.length) await child(p, { balance: inserts.shift()!, creditLimit: '5' }, pt);
            // Every row that existed at the start comes exactly once, and the walk is in order.
            expectStableWalk(seen, before, compare(sort));
          },
        ),
        { numRuns: 8 },
      );
    });
  });

  describe('bad input', () => {
    const bad = (actor: Actor, query: string, parameter: string) => expectBadParameter(actor, `/v1/customers?${query}`, parameter);

    it('answers 400 naming the parameter for an unknown sort key, a parameter that is not a filter, and malformed filters', async () => {
      const sortRes = await bad(reseller, 'sort=height', 'sort');
      expect(sortRes.body.errors[0].detail).toMatch(/name, -name, createdAt/);
      await bad(reseller, 'sort=+name', 'sort');
      await bad(reseller, 'sort=name&sort=balance', 'sort');
      const unknown = await bad(reseller, 'webLogin=abc', 'webLogin');
      expect(unknown.body.errors[0].detail).toMatch(/not a parameter of this list/);
      await bad(reseller, 'name=x', 'name');
      await bad(reseller, 'status=deleted', 'status');
      await bad(reseller, 'createdFrom=2026-01-01', 'createdFrom');
      await bad(reseller, 'createdFrom=2026-01-01T00:00:00', 'createdFrom'); // no zone
      await bad(reseller, 'createdTo=2026-02-30T00:00:00Z', 'createdTo');
      await bad(reseller, 'createdTo=yesterday', 'createdTo');
      await bad(reseller, 'createdFrom=2026-01-01T00:00:00%2B20:00', 'createdFrom'); // no zone is 20 hours ahead
      await bad(reseller, 'createdFrom=2026-01-01T00:00:00-14:01', 'createdFrom');
      await bad(reseller, 'createdFrom=0000-01-01T00:00:00Z', 'createdFrom');
      await bad(reseller, 'createdFrom=2026-01-01T00:00:00Z&createdFrom=2026-01-02T00:00:00Z', 'createdFrom');
      await bad(reseller, 'balanceBelow=abc', 'balanceBelow');
      await bad(reseller, 'balanceBelow=1e3', 'balanceBelow');
      await bad(reseller, 'balanceBelow=1.123456789', 'balanceBelow');
      await bad(reseller, `externalId=${'x'.repeat(129)}`, 'externalId');
      await bad(reseller, 'metadata=x', 'metadata');
      await bad(reseller, 'metadata[bad key]=x', 'metadata[bad key]');
      await bad(reseller, `metadata[${'k'.repeat(41)}]=x`, `metadata[${'k'.repeat(41)}]`);
      await bad(reseller, 'metadata[a][b]=x', 'metadata[a][b]');
      await bad(reseller, 'metadata[a]=x&metadata[a]=y', 'metadata[a]');
      await bad(reseller, `metadata[a]=${'v'.repeat(501)}`, 'metadata[a]');
      await bad(reseller, 'metadata[a]=x%00y', 'metadata[a]');
      const many = Array.from({ length: 51 }, (_, i) => `metadata[k${i}]=v`).join('&');
      await bad(reseller, many, 'metadata');
    });

    it('answers 400 naming cursor for a cursor of another sort or of the default order', async () => {
      const parent = await createCustomer(t, reseller);
      const pt = await createTariff(parent);
      for (let i = 0; i < 3; i++) await child(parent, {}, pt);
      const byName = await parent.get('/v1/customers?sort=name&limit=1').expect(200);
      const byDefault = await parent.get('/v1/customers?limit=1').expect(200);
      const res1 = await bad(parent, `sort=-name&limit=1&cursor=${byName.body.nextCursor}`, 'cursor');
      expect(res1.body.errors).toEqual([{ parameter: 'cursor', detail: 'cursor is not a cursor this list issued' }]);
      await bad(parent, `sort=balance&limit=1&cursor=${byName.body.nextCursor}`, 'cursor');
      await bad(parent, `sort=name&limit=1&cursor=${byDefault.body.nextCursor}`, 'cursor');
      await bad(parent, `limit=1&cursor=${byName.body.nextCursor}`, 'cursor');
      await parent.get(`/v1/customers?sort=name&limit=1&cursor=${byName.body.nextCursor}`).expect(200);
    });
  });
});
