import { createCanopyClient } from '../openapi/client';
import { Actor, createCustomer, createTariff, expectProblem, loginRoot, uniqueName } from './setup/factories';
import { startTestApp, TestApp } from './setup/test-app';

const VALIDATION = 'https://canopy.dev/problems/validation-error';
const MISSING = '00000000-0000-4000-8000-000000000000';

interface Item {
  id: string;
  name: string;
  depth?: number;
}
type PageBody = { items: Item[]; nextCursor: string | null };

describe('customers', () => {
  let t: TestApp;
  let root: Actor;
  let rootTariff: string;

  /** Body of a valid sub-customer of the caller (with the caller's tariff). */
  const newCustomer = (tariffId: string, extra: Record<string, unknown> = {}) => ({
    name: uniqueName('customer'),
    tariffId,
    webLogin: uniqueName('login'),
    webPassword: 'password-123',
    ...extra,
  });

  beforeAll(async () => {
    t = await startTestApp();
    root = await loginRoot(t);
    rootTariff = await createTariff(root);
  });
  afterAll(() => t.close());

  describe('create', () => {
    it('answers 201 with the record, ETag and Location; defaults come from the parent', async () => {
      const body = newCustomer(rootTariff, { balance: '12.5', creditLimit: '100' });
      const res = await root.post('/v1/customers', body).expect(201);
      expect(res.body).toEqual({
        id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        parentId: root.id,
        name: body.name,
        tariffId: rootTariff,
        timeZone: 'UTC',
        language: 'en',
        webLogin: body.webLogin,
        baseCurrency: 'USD',
        balance: '12.50',
        creditLimit: '100.00',
        availableCredit: '112.50',
        display: { currency: 'USD', balance: '12.50', creditLimit: '100.00' },
        lowBalanceThreshold: null,
        status: 'active',
        routingGroupId: null,
        externalId: null,
        metadata: {},
        companyName: null,
        email: null,
        phone: null,
        address: null,
        taxId: null,
        createdAt: expect.any(String),
        updatedAt: expect.any(String),
        version: 1,
      });
      expect(res.headers.etag).toBe('"1"');
      expect(res.headers.location).toBe(`/v1/customers/${res.body.id}`);
      const got = await root.get(`/v1/customers/${res.body.id}`).expect(200);
      expect(got.body).toEqual(res.body);
      expect(got.headers.etag).toBe('"1"');
    });

    it('shows createdAt and updatedAt as ISO instants in UTC to the millisecond, the stored microseconds cut off', async () => {
      const created = await root.post('/v1/customers', newCustomer(rootTariff)).expect(201);
      // A stored time with microseconds that a float would round up (…:05.123999).
      await t.dataSource.query(`UPDATE customers SET created_at = '2026-03-04 05:06:07.123999+00', updated_at = '2026-11-30 23:59:59.000999+00' WHERE id = $1`, [
        created.body.id,
      ]);
      const got = await root.get(`/v1/customers/${created.body.id}`).expect(200);
      expect(got.body).toMatchObject({ createdAt: '2026-03-04T05:06:07.123Z', updatedAt: '2026-11-30T23:59:59.000Z' });
    });

    it('accepts a time zone link name such as Asia/Kolkata, a language and a base currency', async () => {
      const res = await root
        .post('/v1/customers', newCustomer(rootTariff, { timeZone: 'Asia/Kolkata', language: 'pt-BR', baseCurrency: 'EUR' }))
        .expect(201);
      expect(res.body).toMatchObject({ timeZone: 'Asia/Kolkata', language: 'pt-BR', baseCurrency: 'EUR' });
    });

    it('creates under a visible parentId, with a tariff of that parent', async () => {
      const a = await createCustomer(t, root);
      const aTariff = await createTariff(a);
      const res = await root.post('/v1/customers', newCustomer(aTariff, { parentId: a.id })).expect(201);
      expect(res.body.parentId).toBe(a.id);
      const children = await a.get('/v1/customers').expect(200);
      expect(children.body.items.map((i: Item) => i.id)).toEqual([res.body.id]);
    });

    it('requires a tariff owned by the new customer’s parent', async () => {
      const a = await createCustomer(t, root);
      const aTariff = await createTariff(a);
      const other = await createCustomer(t, root);
      const otherTariff = await createTariff(other);
      for (const [parentId, tariffId] of [
        [undefined, aTariff], // a tariff of the child, not of the parent
        [a.id, rootTariff], // a tariff of the grandparent
        [a.id, otherTariff], // a tariff of another subtree
        [undefined, MISSING],
      ]) {
        const res = await root.post('/v1/customers', newCustomer(tariffId!, parentId ? { parentId } : {})).expect(400);
        expectProblem(res, 400);
        expect(res.body.type).toBe(VALIDATION);
        expect(res.body.errors).toEqual([{ pointer: '/tariffId', detail: expect.stringContaining('tariff') }]);
      }
      // A child cannot hide a tariff it does not see behind the 400 either.
      const res = await a.post('/v1/customers', newCustomer(otherTariff)).expect(400);
      expect(res.body.errors[0].pointer).toBe('/tariffId');
    });

    it('requires tariffId', async () => {
      const { tariffId: _omitted, ...body } = newCustomer(rootTariff);
      const res = await root.post('/v1/customers', body).expect(400);
      expect(res.body.errors).toEqual([{ pointer: '/tariffId', detail: expect.any(String) }]);
    });

    it('answers a parentId outside the caller’s subtree with 404', async () => {
      const a = await createCustomer(t, root);
      const b = await createCustomer(t, root);
      const bTariff = await createTariff(b);
      for (const parentId of [b.id, root.id, MISSING]) {
        const res = await a.post('/v1/customers', newCustomer(bTariff, { parentId })).expect(404);
        expectProblem(res, 404);
      }
    });

    it('keeps web logins unique among live customers, case-insensitively (409)', async () => {
      const a = await createCustomer(t, root);
      for (const webLogin of [a.login, a.login.toUpperCase(), 'ROOT']) {
        const res = await root.post('/v1/customers', newCustomer(rootTariff, { webLogin })).expect(409);
        expectProblem(res, 409);
        expect(res.body).toMatchObject({
          type: 'https://canopy.dev/problems/login-taken',
          errors: [{ pointer: '/webLogin', detail: expect.any(String) }],
        });
      }
    });

    it('keeps sibling names unique (409), but cousins may share a name', async () => {
      const name = uniqueName('sibling');
      const first = await createCustomer(t, root, { name });
      const res = await root.post('/v1/customers', newCustomer(rootTariff, { name })).expect(409);
      expectProblem(res, 409);
      expect(res.body).toMatchObject({ type: 'https://canopy.dev/problems/name-taken', errors: [{ pointer: '/name' }] });
      await first.post('/v1/customers', newCustomer(await createTariff(first), { name })).expect(201);
    });

    it('answers concurrent creations with one login or one sibling name with one 201 and 409s', async () => {
      const webLogin = uniqueName('race');
      const byLogin = await Promise.all([0, 1, 2].map(() => root.post('/v1/customers', newCustomer(rootTariff, { webLogin }))));
      expect(byLogin.map((r) => r.status).sort()).toEqual([201, 409, 409]);
      const name = uniqueName('race');
      const byName = await Promise.all([0, 1, 2].map(() => root.post('/v1/customers', newCustomer(rootTariff, { name }))));
      expect(byName.map((r) => r.status).sort()).toEqual([201, 409, 409]);
      for (const res of [...byLogin, ...byName].filter((r) => r.status === 409)) expectProblem(res, 409);
    });

    it.each([
      ['timeZone', { timeZone: 'Mars/Olympus_Mons' }],
      ['timeZone', { timeZone: 'utc+5' }],
      ['language', { language: 'xx' }],
      ['language', { language: 'EN' }],
      ['baseCurrency', { baseCurrency: 'XYZ' }],
      ['baseCurrency', { baseCurrency: 'usd' }],
      ['balance', { balance: 10 }],
      ['creditLimit', { creditLimit: 100.5 }],
      ['balance', { balance: '1.123456789' }],
      ['creditLimit', { creditLimit: '0.000000001' }],
      ['creditLimit', { creditLimit: '-1' }],
      ['balance', { balance: '1e3' }],
      ['webPassword', { webPassword: 'short' }],
      ['webLogin', { webLogin: 'has spaces' }],
      ['name', { name: '' }],
      ['name', { name: 'x'.repeat(129) }],
      ['status', { status: 'deleted' }],
      ['parentId', { parentId: 'not-a-uuid' }],
    ])('names %s when it is invalid (%j)', async (field, extra) => {
      const res = await root.post('/v1/customers', newCustomer(rootTariff, extra)).expect(400);
      expectProblem(res, 400);
      expect(res.body.type).toBe(VALIDATION);
      expect([...new Set(res.body.errors.map((e: { pointer: string }) => e.pointer))]).toEqual([`/${field}`]);
    });

    it('accepts money with 8 decimals', async () => {
      const res = await root.post('/v1/customers', newCustomer(rootTariff, { balance: '0.12345678' })).expect(201);
      expect(res.body.balance).toBe('0.12345678');
    });

    it('refuses an opening balance below -creditLimit, and accepts it at -creditLimit', async () => {
      const res = await root.post('/v1/customers', newCustomer(rootTariff, { balance: '-10.01', creditLimit: '10' })).expect(400);
      expectProblem(res, 400);
      expect(res.body.errors).toEqual([{ pointer: '/balance', detail: expect.stringContaining('creditLimit') }]);
      const noLimit = await root.post('/v1/customers', newCustomer(rootTariff, { balance: '-0.01' })).expect(400);
      expect(noLimit.body.errors[0].pointer).toBe('/balance');
      const ok = await root.post('/v1/customers', newCustomer(rootTariff, { balance: '-10', creditLimit: '10' })).expect(201);
      expect(ok.body).toMatchObject({ balance: '-10.00', creditLimit: '10.00', availableCredit: '0.00' });
    });

    it('never returns the password', async () => {
      const res = await root.post('/v1/customers', newCustomer(rootTariff)).expect(201);
      expect(JSON.stringify(res.body)).not.toMatch(/password/i);
    });
  });

  describe('update', () => {
    it('changes what it may and answers with a new ETag', async () => {
      const a = await createCustomer(t, root);
      const tariff2 = await createTariff(root);
      const res = await root
        .patch(`/v1/customers/${a.id}`, {
          name: uniqueName('renamed'),
          tariffId: tariff2,
          timeZone: 'Asia/Kolkata',
          language: 'de',
          webLogin: uniqueName('new-login'),
          creditLimit: '50.5',
          status: 'suspended',
        })
        .expect(200);
      expect(res.body).toMatchObject({ tariffId: tariff2, timeZone: 'Asia/Kolkata', language: 'de', creditLimit: '50.50', status: 'suspended', version: 2 });
      expect(res.headers.etag).toBe('"2"');
      const got = await root.get(`/v1/customers/${a.id}`).expect(200);
      expect(got.body).toEqual(res.body);
    });

    it('refuses balance with a 400 that names the balance operations', async () => {
      const a = await createCustomer(t, root);
      for (const balance of ['100.00', 100, null]) {
        const res = await root.patch(`/v1/customers/${a.id}`, { balance }).expect(400);
        expectProblem(res, 400);
        expect(res.body.errors).toHaveLength(1);
        expect(res.body.errors[0].pointer).toBe('/balance');
        expect(res.body.errors[0].detail).toContain('balance-operations');
      }
      expect((await root.get(`/v1/customers/${a.id}`)).body.balance).toBe('0.00');
    });

    it('refuses a change of one’s own record with 403 (use /v1/me)', async () => {
      const a = await createCustomer(t, root);
      for (const actor of [a, root]) {
        const res = await actor.patch(`/v1/customers/${actor.id}`, { creditLimit: '1000000' }).expect(403);
        expectProblem(res, 403);
        expect(res.body.detail).toContain('/v1/me');
        const del = await actor.delete(`/v1/customers/${actor.id}`).expect(403);
        expectProblem(del, 403);
      }
      expect((await a.get('/v1/me')).body.creditLimit).toBe('0.00');
    });

    it('answers one’s own record with not-a-descendant before the right and the version, however its id is spelt', async () => {
      const a = await createCustomer(t, root);
      const child = await createCustomer(t, a);
      await root.put(`/v1/customers/${a.id}/permissions`, { permissions: [] }).expect(200);
      for (const id of [a.id, a.id.toUpperCase()]) {
        const res = await a.patch(`/v1/customers/${id}`, { language: 'de' }).set('If-Match', '"999"').expect(403);
        expectProblem(res, 403);
        expect(res.body.type).toBe('https://canopy.dev/problems/not-a-descendant');
        const del = await a.delete(`/v1/customers/${id}`).set('If-Match', '"999"').expect(403);
        expect(del.body.type).toBe('https://canopy.dev/problems/not-a-descendant');
      }
      // A descendant's change, without the right: the 403 naming it, before the version's 412.
      const other = await a.patch(`/v1/customers/${child.id}`, { language: 'de' }).set('If-Match', '"999"').expect(403);
      expect(other.body).toMatchObject({ type: 'https://canopy.dev/problems/permission-denied', permission: 'customers.update' });
    });

    it('refuses the fields a parent may not change and the ones that do not exist', async () => {
      const a = await createCustomer(t, root);
      for (const field of ['baseCurrency', 'parentId', 'id', 'version', 'availableCredit', 'permissions']) {
        const res = await root.patch(`/v1/customers/${a.id}`, { [field]: 'x' }).expect(400);
        expect(res.body.errors.map((e: { pointer: string }) => e.pointer)).toContain(`/${field}`);
      }
    });

    it('keeps logins and sibling names unique on update, and lets a customer keep its own', async () => {
      const a = await createCustomer(t, root);
      const b = await createCustomer(t, root);
      const takenLogin = await root.patch(`/v1/customers/${b.id}`, { webLogin: a.login.toUpperCase() }).expect(409);
      expect(takenLogin.body.type).toBe('https://canopy.dev/problems/login-taken');
      const aName = (await root.get(`/v1/customers/${a.id}`)).body.name;
      const takenName = await root.patch(`/v1/customers/${b.id}`, { name: aName }).expect(409);
      expect(takenName.body.type).toBe('https://canopy.dev/problems/name-taken');
      await root.patch(`/v1/customers/${a.id}`, { webLogin: a.login.toUpperCase(), name: aName }).expect(200);
    });

    it('requires the new tariff to be the parent’s', async () => {
      const a = await createCustomer(t, root);
      const res = await root.patch(`/v1/customers/${a.id}`, { tariffId: await createTariff(a) }).expect(400);
      expect(res.body.errors).toEqual([{ pointer: '/tariffId', detail: expect.any(String) }]);
    });

    it('honours If-Match on PATCH and DELETE: stale → 412, current → OK', async () => {
      const a = await createCustomer(t, root);
      const got = await root.get(`/v1/customers/${a.id}`).expect(200);
      expect(got.headers.etag).toBe(`"${got.body.version}"`);
      const changed = await root.patch(`/v1/customers/${a.id}`, { language: 'fr' }).set('If-Match', got.headers.etag).expect(200);
      expect(changed.headers.etag).not.toBe(got.headers.etag);
      const stale = await root.patch(`/v1/customers/${a.id}`, { language: 'de' }).set('If-Match', got.headers.etag).expect(412);
      expectProblem(stale, 412);
      expect(stale.body.type).toBe('https://canopy.dev/problems/precondition-failed');
      const notOurs = await root.patch(`/v1/customers/${a.id}`, { language: 'de' }).set('If-Match', 'whatever').expect(412);
      expectProblem(notOurs, 412);
      expect((await root.get(`/v1/customers/${a.id}`)).body.language).toBe('fr');
      await root.patch(`/v1/customers/${a.id}`, { language: 'de' }).set('If-Match', `W/${changed.headers.etag}`).expect(200);
      const current = (await root.get(`/v1/customers/${a.id}`)).headers.etag;
      const staleDelete = await root.delete(`/v1/customers/${a.id}`).set('If-Match', changed.headers.etag).expect(412);
      expectProblem(staleDelete, 412);
      await root.get(`/v1/customers/${a.id}`).expect(200);
      await root.delete(`/v1/customers/${a.id}`).set('If-Match', current).expect(204);
    });

    it('accepts If-Match: *', async () => {
      const a = await createCustomer(t, root);
      await root.patch(`/v1/customers/${a.id}`, { language: 'fr' }).set('If-Match', '*').expect(200);
    });
  });

  describe('delete', () => {
    it('refuses while live sub-customers remain, saying how many', async () => {
      const a = await createCustomer(t, root);
      await createCustomer(t, a);
      await createCustomer(t, a);
      const res = await root.delete(`/v1/customers/${a.id}`).expect(409);
      expectProblem(res, 409);
      expect(res.body).toMatchObject({ type: 'https://canopy.dev/problems/customer-not-empty', subCustomers: 2, accounts: 0 });
      expect(res.body.detail).toContain('2');
    });

    it('soft-deletes: 404 everywhere, gone from lists, login freed, cannot log in', async () => {
      const a = await createCustomer(t, root);
      const name = (await root.get(`/v1/customers/${a.id}`)).body.name;
      await root.delete(`/v1/customers/${a.id}`).expect(204);
      const missing = await root.get(`/v1/customers/${MISSING}`).expect(404);
      const gone = await root.get(`/v1/customers/${a.id}`).expect(404);
      expectProblem(gone, 404);
      expect({ ...gone.body, instance: undefined }).toEqual({ ...missing.body, instance: undefined });
      await root.patch(`/v1/customers/${a.id}`, { name: 'x' }).expect(404);
      await root.delete(`/v1/customers/${a.id}`).expect(404);
      await root.get(`/v1/customers?parentId=${a.id}`).expect(404);
      await root.post('/v1/customers', newCustomer(rootTariff, { parentId: a.id })).expect(404);
      for (const url of ['/v1/customers', '/v1/customers?scope=subtree', `/v1/customers?q=${encodeURIComponent(name)}`]) {
        const list = await root.get(url).expect(200);
        expect(list.body.items.map((i: Item) => i.id)).not.toContain(a.id);
      }
      await t.http().post('/v1/auth/login').send({ login: a.login, password: a.password }).expect(401);
      // The login and the name are free again.
      const again = await createCustomer(t, root, { webLogin: a.login.toUpperCase(), webPassword: 'another-password', name });
      expect(again.id).not.toBe(a.id);
      // Its history is kept: the row is still there, only marked deleted.
      const rows = await t.dataSource.query(`SELECT deleted_at FROM customers WHERE id = $1`, [a.id]);
      expect(rows[0].deleted_at).not.toBeNull();
    });
  });

  describe('the tree', () => {
    it('allows 16 levels (the root is level 1) and refuses a 17th with 422', async () => {
      let parentId = root.id;
      for (let level = 2; level <= 16; level++) {
        const tariffId = await createTariff(root, { ownerId: parentId });
        const res = await root.post('/v1/customers', newCustomer(tariffId, { parentId })).expect(201);
        parentId = res.body.id;
      }
      const tariffId = await createTariff(root, { ownerId: parentId });
      const res = await root.post('/v1/customers', newCustomer(tariffId, { parentId })).expect(422);
      expectProblem(res, 422);
      expect(res.body).toMatchObject({ type: 'https://canopy.dev/problems/max-depth-exceeded', maxDepth: 16 });
    });
  });

  describe('/v1/me', () => {
    it('carries an ETag and honours If-Match on PATCH', async () => {
      const me = await createCustomer(t, root);
      const got = await me.get('/v1/me').expect(200);
      expect(got.headers.etag).toBe(`"${got.body.version}"`);
      const changed = await me.patch('/v1/me', { language: 'fr' }).set('If-Match', got.headers.etag).expect(200);
      expect(changed.headers.etag).toBe(`"${changed.body.version}"`);
      expect(changed.headers.etag).not.toBe(got.headers.etag);
      const stale = await me.patch('/v1/me', { language: 'de' }).set('If-Match', got.headers.etag).expect(412);
      expectProblem(stale, 412);
      expect((await me.get('/v1/me')).body.language).toBe('fr');
    });

    it('refuses what the parent controls', async () => {
      const me = await createCustomer(t, root);
      for (const field of ['name', 'creditLimit', 'status', 'webLogin', 'tariffId', 'balance', 'baseCurrency', 'permissions']) {
        const res = await me.patch('/v1/me', { [field]: 'x' }).expect(400);
        expect(res.body.errors.map((e: { pointer: string }) => e.pointer)).toEqual([`/${field}`]);
      }
    });
  });

  describe('through the generated client', () => {
    it('logs in, creates a tariff and a customer, reads, changes and lists it', async () => {
      const anonymous = createCanopyClient(t.baseUrl);
      const login = await anonymous.POST('/v1/auth/login', { body: { login: 'root', password: 'root-password' } });
      expect(login.response.status).toBe(200);
      const client = createCanopyClient(t.baseUrl, login.data!.accessToken);
      const tariff = await client.POST('/v1/tariffs', { body: { name: uniqueName('t'), currency: 'USD' } });
      expect(tariff.response.status).toBe(201);
      const created = await client.POST('/v1/customers', {
        body: { name: uniqueName('c'), tariffId: tariff.data!.id, webLogin: uniqueName('l'), webPassword: 'password-123', creditLimit: '5' },
      });
      expect(created.response.status).toBe(201);
      expect(created.data!.availableCredit).toBe('5.00');
      const id = created.data!.id;
      const got = await client.GET('/v1/customers/{id}', { params: { path: { id } } });
      expect(got.data).toEqual(created.data);
      const etag = got.response.headers.get('etag')!;
      const changed = await client.PATCH('/v1/customers/{id}', {
        params: { path: { id }, header: { 'If-Match': etag } },
        body: { language: 'fr' },
      });
      expect(changed.response.status).toBe(200);
      expect(changed.data!.language).toBe('fr');
      const stale = await client.PATCH('/v1/customers/{id}', { params: { path: { id }, header: { 'If-Match': etag } }, body: { language: 'de' } });
      expect(stale.response.status).toBe(412);
      expect(stale.error).toMatchObject({ status: 412, type: 'https://canopy.dev/problems/precondition-failed' });
      const list = await client.GET('/v1/customers', { params: { query: { q: created.data!.name, limit: 1 } } });
      expect(list.data!.items.map((i) => i.id)).toEqual([id]);
    });
  });

  describe('lists', () => {
    let a: Actor;
    let all: Item[];

    /** Follows nextCursor from the first page to the last. */
    const pageThrough = async (actor: Actor, url: string, limit: number): Promise<Item[]> => {
      const seen: Item[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const sep = url.includes('?') ? '&' : '?';
        const res: { body: PageBody } = await actor
          .get(`${url}${sep}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`)
          .expect(200);
        expect(res.body.items.length).toBeLessThanOrEqual(limit);
        seen.push(...res.body.items);
        cursor = res.body.nextCursor;
        if (++pages > 50) throw new Error('pagination does not end');
      } while (cursor);
      return seen;
    };

    beforeAll(async () => {
      // A → 5 children (Alpha-1..3, Beta-1, Gamma_1); Alpha-1 → 3 children; Beta-1 → 1 child.
      a = await createCustomer(t, root, { name: uniqueName('A') });
      const tariff = await createTariff(a);
      const children: Actor[] = [];
      for (const name of ['Alpha-1', 'Alpha-2', 'Alpha-3', 'Beta-1', 'Gamma_1']) children.push(await createCustomer(t, a, { name, tariffId: tariff }));
      const alphaTariff = await createTariff(children[0]);
      for (const name of ['Delta-1', 'Delta-2', 'alpha-x']) await createCustomer(t, children[0], { name, tariffId: alphaTariff });
      await createCustomer(t, children[3], { name: 'Epsilon-1', tariffId: await createTariff(children[3]) });
      all = (await a.get('/v1/customers?scope=subtree&limit=200').expect(200)).body.items;
    });

    it('lists the whole subtree with relative depths', () => {
      expect(all).toHaveLength(9);
      const depths = Object.fromEntries(all.map((i) => [i.name, i.depth]));
      expect(depths).toEqual({
        'Alpha-1': 1, 'Alpha-2': 1, 'Alpha-3': 1, 'Beta-1': 1, Gamma_1: 1, 'Delta-1': 2, 'Delta-2': 2, 'alpha-x': 2, 'Epsilon-1': 2,
      });
    });

    it.each([1, 2, 3, 200])('pages through the subtree with limit=%i, every customer exactly once', async (limit) => {
      const seen = await pageThrough(a, '/v1/customers?scope=subtree', limit);
      expect(seen.map((i) => i.id).sort()).toEqual(all.map((i) => i.id).sort());
      expect(new Set(seen.map((i) => i.id)).size).toBe(seen.length);
    });

    it('pages through the direct children with limit=2', async () => {
      const seen = await pageThrough(a, '/v1/customers', 2);
      expect(seen.map((i) => i.name).sort()).toEqual(['Alpha-1', 'Alpha-2', 'Alpha-3', 'Beta-1', 'Gamma_1']);
      expect(seen.every((i) => i.depth === undefined)).toBe(true);
    });

    it('pages through another visible customer’s children and subtree', async () => {
      const alpha = all.find((i) => i.name === 'Alpha-1')!;
      const children = await pageThrough(a, `/v1/customers?parentId=${alpha.id}`, 2);
      expect(children.map((i) => i.name).sort()).toEqual(['Delta-1', 'Delta-2', 'alpha-x']);
      const subtree = await pageThrough(a, `/v1/customers?parentId=${alpha.id}&scope=subtree`, 1);
      expect(subtree.map((i) => i.name).sort()).toEqual(['Delta-1', 'Delta-2', 'alpha-x']);
    });

    it('filters by name with ?q= (case-insensitive substring, wildcards taken literally)', async () => {
      const names = async (url: string) => (await a.get(url).expect(200)).body.items.map((i: Item) => i.name).sort();
      expect(await names('/v1/customers?q=alpha')).toEqual(['Alpha-1', 'Alpha-2', 'Alpha-3']);
      expect(await names('/v1/customers?q=ALPHA&scope=subtree')).toEqual(['Alpha-1', 'Alpha-2', 'Alpha-3', 'alpha-x']);
      expect(await names('/v1/customers?q=_&scope=subtree')).toEqual(['Gamma_1']);
      expect(await names('/v1/customers?q=%25')).toEqual([]);
      expect(await names('/v1/customers?q=-1&scope=subtree')).toEqual(['Alpha-1', 'Beta-1', 'Delta-1', 'Epsilon-1']);
      const paged = await pageThrough(a, '/v1/customers?q=alpha&scope=subtree', 1);
      expect(paged.map((i) => i.name).sort()).toEqual(['Alpha-1', 'Alpha-2', 'Alpha-3', 'alpha-x']);
    });

    it('answers a garbage or forged cursor with 400 naming the cursor', async () => {
      const forged = (values: unknown) => Buffer.from(JSON.stringify(values)).toString('base64url');
      const outsider = await createCustomer(t, root);
      for (const cursor of ['garbage', forged([]), forged([1]), forged(['not-an-id']), forged([outsider.id]), forged([root.id]), '!!!']) {
        const res = await a.get(`/v1/customers?scope=subtree&cursor=${encodeURIComponent(cursor)}`).expect(400);
        expectProblem(res, 400);
        expect(res.body.errors).toEqual([{ parameter: 'cursor', detail: expect.any(String) }]);
      }
    });

    it('answers ?parentId= outside the subtree with 404', async () => {
      for (const parentId of [root.id, MISSING]) {
        const res = await a.get(`/v1/customers?parentId=${parentId}`).expect(404);
        expectProblem(res, 404);
      }
    });
  });
});
