import type { Test } from 'supertest';
import { Actor, createCustomer, createTariff, expectProblem, loginRoot, uniqueName } from './setup/factories';
import { startTestApp, TestApp } from './setup/test-app';

const MISSING = '00000000-0000-4000-8000-000000000000';

interface TariffItem {
  id: string;
  ownerId: string;
  name: string;
}

describe('tariffs', () => {
  let t: TestApp;
  let root: Actor, a: Actor, b: Actor, c: Actor;

  beforeAll(async () => {
    t = await startTestApp();
    root = await loginRoot(t);
    a = await createCustomer(t, root);
    b = await createCustomer(t, root);
    c = await createCustomer(t, a);
  });
  afterAll(() => t.close());

  it('creates, reads, changes and deletes a tariff', async () => {
    const name = uniqueName('tariff');
    const created = await a.post('/v1/tariffs', { name, currency: 'EUR', description: 'Retail', connectFee: '0.015', freeSeconds: 5 }).expect(201);
    expect(created.body).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      ownerId: a.id,
      name,
      currency: 'EUR',
      description: 'Retail',
      connectFee: '0.015',
      freeSeconds: 5,
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
      version: 1,
    });
    expect(created.headers.etag).toBe('"1"');
    expect(created.headers.location).toBe(`/v1/tariffs/${created.body.id}`);

    const got = await a.get(`/v1/tariffs/${created.body.id}`).expect(200);
    expect(got.body).toEqual(created.body);
    expect(got.headers.etag).toBe('"1"');

    const changed = await a
      .patch(`/v1/tariffs/${created.body.id}`, { name: name + '-2', description: '', connectFee: '0', freeSeconds: 0 })
      .expect(200);
    expect(changed.body).toMatchObject({ name: name + '-2', description: '', connectFee: '0.00', freeSeconds: 0, currency: 'EUR', version: 2 });
    expect(changed.headers.etag).toBe('"2"');
    expect((await a.get(`/v1/tariffs/${created.body.id}`)).body).toEqual(changed.body);

    await a.delete(`/v1/tariffs/${created.body.id}`).expect(204);
    const gone = await a.get(`/v1/tariffs/${created.body.id}`).expect(404);
    expectProblem(gone, 404);
  });

  it('defaults description, connectFee and freeSeconds', async () => {
    const res = await a.post('/v1/tariffs', { name: uniqueName('t'), currency: 'USD' }).expect(201);
    expect(res.body).toMatchObject({ description: '', connectFee: '0.00', freeSeconds: 0 });
  });

  it('creates for a visible ownerId; an owner outside the subtree is a 404', async () => {
    const forChild = await a.post('/v1/tariffs', { ownerId: c.id, name: uniqueName('t'), currency: 'USD' }).expect(201);
    expect(forChild.body.ownerId).toBe(c.id);
    await c.get(`/v1/tariffs/${forChild.body.id}`).expect(200);
    for (const ownerId of [b.id, root.id, MISSING]) {
      const res = await a.post('/v1/tariffs', { ownerId, name: uniqueName('t'), currency: 'USD' }).expect(404);
      expectProblem(res, 404);
    }
  });

  it('keeps the currency (and the owner) fixed', async () => {
    const id = await createTariff(a, { currency: 'USD' });
    const res = await a.patch(`/v1/tariffs/${id}`, { currency: 'EUR' }).expect(400);
    expectProblem(res, 400);
    expect(res.body.errors).toEqual([{ pointer: '/currency', detail: expect.stringContaining('fixed') }]);
    const owner = await a.patch(`/v1/tariffs/${id}`, { ownerId: c.id }).expect(400);
    expect(owner.body.errors).toEqual([{ pointer: '/ownerId', detail: expect.any(String) }]);
    expect((await a.get(`/v1/tariffs/${id}`)).body).toMatchObject({ currency: 'USD', ownerId: a.id, version: 1 });
  });

  it('keeps names unique per owner (409), on create and on change', async () => {
    const name = uniqueName('dup');
    const first = await createTariff(a, { name });
    const res = await a.post('/v1/tariffs', { name, currency: 'EUR' }).expect(409);
    expectProblem(res, 409);
    expect(res.body).toMatchObject({ type: 'https://canopy.dev/problems/name-taken', errors: [{ pointer: '/name' }] });
    await b.post('/v1/tariffs', { name, currency: 'USD' }).expect(201); // another owner may
    await a.post('/v1/tariffs', { ownerId: c.id, name, currency: 'USD' }).expect(201);
    const second = await createTariff(a);
    const renamed = await a.patch(`/v1/tariffs/${second}`, { name }).expect(409);
    expect(renamed.body.type).toBe('https://canopy.dev/problems/name-taken');
    await a.patch(`/v1/tariffs/${first}`, { name }).expect(200); // its own name is no conflict
  });

  it('answers two concurrent creations of one name with one 201 and one 409', async () => {
    const name = uniqueName('race');
    const results = await Promise.all([0, 1].map(() => a.post('/v1/tariffs', { name, currency: 'USD' })));
    expect(results.map((r) => r.status).sort()).toEqual([201, 409]);
  });

  it('refuses to delete a tariff assigned to a customer (409), and allows it once the customer is gone', async () => {
    const tariffId = await createTariff(a);
    const user = await createCustomer(t, a, { tariffId });
    const res = await a.delete(`/v1/tariffs/${tariffId}`).expect(409);
    expectProblem(res, 409);
    expect(res.body).toMatchObject({ type: 'https://canopy.dev/problems/tariff-in-use', customers: 1, accounts: 0 });
    await a.delete(`/v1/customers/${user.id}`).expect(204);
    await a.delete(`/v1/tariffs/${tariffId}`).expect(204);
  });

  it('never answers 500 when a tariff is deleted while customers are given it', async () => {
    const existing = await createCustomer(t, a);
    for (let round = 0; round < 8; round++) {
      const tariffId = await createTariff(a);
      const [deleted, created, patched] = await Promise.all([
        a.delete(`/v1/tariffs/${tariffId}`),
        a.post('/v1/customers', { name: uniqueName('c'), tariffId, webLogin: uniqueName('l'), webPassword: 'password-123' }),
        a.patch(`/v1/customers/${existing.id}`, { tariffId }),
      ]);
      if (deleted.status === 204) {
        expect([created.status, patched.status]).toEqual([400, 400]);
      } else {
        // The tariff stayed because a customer got it first.
        expect(deleted.status).toBe(409);
        expect([201, 400]).toContain(created.status);
        expect([200, 400]).toContain(patched.status);
        expect(created.status === 201 || patched.status === 200).toBe(true);
      }
      // Put the existing customer back on a tariff that stays.
      if (patched.status === 200) await a.patch(`/v1/customers/${existing.id}`, { tariffId: await createTariff(a) }).expect(200);
    }
  });

  it('answers another subtree’s tariff with the same 404 as a missing one, on get, patch and delete', async () => {
    const theirs = await createTariff(b);
    const rootTariff = await createTariff(root);
    const missing = await a.get(`/v1/tariffs/${MISSING}`).expect(404);
    expectProblem(missing, 404);
    for (const id of [theirs, rootTariff]) {
      for (const res of [
        await a.get(`/v1/tariffs/${id}`),
        await a.patch(`/v1/tariffs/${id}`, { name: 'stolen' }),
        await a.delete(`/v1/tariffs/${id}`),
      ]) {
        expect(res.status).toBe(404);
        expect({ ...res.body, instance: undefined }).toEqual({ ...missing.body, instance: undefined });
      }
    }
    expect((await b.get(`/v1/tariffs/${theirs}`).expect(200)).body.name).not.toBe('stolen');
  });

  it('lists the caller’s own tariffs and its subtree’s only; ?ownerId= narrows', async () => {
    const owner = await createCustomer(t, root);
    const own = [await createTariff(owner), await createTariff(owner)];
    const sub = await createCustomer(t, owner, { tariffId: own[0] });
    const subs = [await createTariff(sub)];
    await createTariff(b);
    const ids = async (actor: Actor, url: string) =>
      (await actor.get(url).expect(200)).body.items.map((i: TariffItem) => i.id).sort();
    expect(await ids(owner, '/v1/tariffs')).toEqual([...own, ...subs].sort());
    expect(await ids(owner, `/v1/tariffs?ownerId=${owner.id}`)).toEqual([...own].sort());
    expect(await ids(owner, `/v1/tariffs?ownerId=${sub.id}`)).toEqual(subs);
    expect(await ids(sub, '/v1/tariffs')).toEqual(subs);
    const outside = await owner.get(`/v1/tariffs?ownerId=${b.id}`).expect(404);
    expectProblem(outside, 404);
    const rootList = await ids(root, '/v1/tariffs?limit=200');
    expect(rootList).toEqual(expect.arrayContaining([...own, ...subs]));
  });

  it('pages through tariffs with limit=2, each exactly once', async () => {
    const owner = await createCustomer(t, root);
    const created: string[] = [];
    for (let i = 0; i < 5; i++) created.push(await createTariff(owner));
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res: { body: { items: TariffItem[]; nextCursor: string | null } } = await owner
        .get(`/v1/tariffs?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`)
        .expect(200);
      expect(res.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...res.body.items.map((i) => i.id));
      cursor = res.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual(created);
  });

  it('answers a forged cursor with 400 naming the cursor', async () => {
    const forged = Buffer.from(JSON.stringify(['yesterday', 'x'])).toString('base64url');
    for (const cursor of ['garbage', forged]) {
      const res = await a.get(`/v1/tariffs?cursor=${cursor}`).expect(400);
      expectProblem(res, 400);
      expect(res.body.errors).toEqual([{ parameter: 'cursor', detail: expect.any(String) }]);
    }
  });

  it('honours If-Match: stale → 412, current → OK', async () => {
    const id = await createTariff(a);
    const first = (await a.get(`/v1/tariffs/${id}`)).headers.etag;
    const second = (await a.patch(`/v1/tariffs/${id}`, { description: 'x' }).set('If-Match', first).expect(200)).headers.etag;
    const stale = await a.patch(`/v1/tariffs/${id}`, { description: 'y' }).set('If-Match', first).expect(412);
    expectProblem(stale, 412);
    await a.delete(`/v1/tariffs/${id}`).set('If-Match', first).expect(412);
    await a.delete(`/v1/tariffs/${id}`).set('If-Match', second).expect(204);
  });

  it('needs tariffs.manage to change tariffs (403 naming the right)', async () => {
    const id = await createTariff(a);
    const { apiKey } = (await a.post('/v1/api-keys', { name: 'no-tariffs', permissions: ['customers.create'] }).expect(201)).body;
    const token = (await t.http().post('/v1/auth/token').send({ apiKey }).expect(200)).body.accessToken;
    const as = (req: Test) => req.set('Authorization', `Bearer ${token}`);
    await as(t.http().get(`/v1/tariffs/${id}`)).expect(200); // reading needs no right
    for (const req of [
      as(t.http().post('/v1/tariffs')).send({ name: uniqueName('t'), currency: 'USD' }),
      as(t.http().patch(`/v1/tariffs/${id}`)).send({ description: 'x' }),
      as(t.http().delete(`/v1/tariffs/${id}`)),
    ]) {
      const res = await req.expect(403);
      expectProblem(res, 403);
      expect(res.body.permission).toBe('tariffs.manage');
    }
  });

  it.each([
    ['currency', { currency: 'EURO' }],
    ['currency', { currency: 'XXX1' }],
    ['connectFee', { connectFee: 0.5 }],
    ['connectFee', { connectFee: '-0.01' }],
    ['connectFee', { connectFee: '0.000000001' }],
    ['freeSeconds', { freeSeconds: -1 }],
    ['freeSeconds', { freeSeconds: 86401 }],
    ['freeSeconds', { freeSeconds: 1.5 }],
    ['freeSeconds', { freeSeconds: '10' }],
    ['description', { description: 'x'.repeat(1025) }],
    ['name', { name: 'x'.repeat(129) }],
    ['name', { name: '' }],
    ['ownerId', { ownerId: 'nope' }],
  ])('names %s when it is invalid on create (%j)', async (field, extra) => {
    const res = await a.post('/v1/tariffs', { name: uniqueName('t'), currency: 'USD', ...extra }).expect(400);
    expectProblem(res, 400);
    expect([...new Set(res.body.errors.map((e: { pointer: string }) => e.pointer))]).toEqual([`/${field}`]);
  });
});
