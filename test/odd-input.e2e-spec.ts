import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Actor, createCustomer, createTariff, expectProblem, loginRoot, uniqueName } from './setup/factories';
import { startTestApp, TestApp } from './setup/test-app';

/** Issue 10 §4: odd but valid input is a 4xx problem, never a 500. */
describe('odd but valid input', () => {
  let t: TestApp;
  let root: Actor;

  beforeAll(async () => {
    t = await startTestApp();
    root = await loginRoot(t);
  });
  afterAll(() => t.close());

  const operate = (actor: Actor, customerId: string, body: object, key = randomUUID()) =>
    actor.post(`/v1/customers/${customerId}/balance-operations`, body).set('Idempotency-Key', key);

  describe('exchange rates and amounts out of range', () => {
    it('bounds exchange rates to 12 integer and 12 fraction digits', async () => {
      for (const rate of ['10000000000000000000000000', '1000000000000', '1000000000000.5']) {
        const res = await root.put('/v1/exchange-rates/JPY', { rate });
        expectProblem(res, 400);
        expect(res.body.errors).toEqual([{ pointer: '/rate', detail: expect.stringContaining('12 integer') }]);
      }
      expect((await root.put('/v1/exchange-rates/JPY', { rate: '999999999999.999999999999' }).expect(200)).body.rate).toBe('999999999999.999999999999');
      expect((await root.put('/v1/exchange-rates/JPY', { rate: '0.000000000001' }).expect(200)).body.rate).toBe('0.000000000001');
    });

    it('answers 422 amount-out-of-range to a conversion or a balance that would not fit NUMERIC(38,8)', async () => {
      await root.put('/v1/exchange-rates/CHF', { rate: '999999999999' }).expect(200);
      const c = await createCustomer(t, root);
      const expectOutOfRange = (res: { status: number; headers: Record<string, string>; body: Record<string, unknown> }) => {
        expectProblem(res, 422);
        expect(res.body.type).toMatch(/\/amount-out-of-range$/);
      };
      // 10^22 CHF at ~10^12 is 10^34 USD.
      expectOutOfRange(await operate(root, c.id, { action: 'add_funds', amount: '9999999999999999999999', currency: 'CHF' }));
      // 10^18 CHF is 9.99999999999 × 10^29 USD: fits, once; twice would not.
      const fits = await operate(root, c.id, { action: 'add_funds', amount: '1000000000000000000', currency: 'CHF' }).expect(201);
      expect(fits.body.balanceAfter).toBe('999999999999000000000000000000.00');
      const key = randomUUID();
      const twice = await operate(root, c.id, { action: 'add_funds', amount: '1000000000000000000', currency: 'CHF' }, key);
      expectOutOfRange(twice);
      // A refusal is an outcome: the same key replays it.
      const replay = await operate(root, c.id, { action: 'add_funds', amount: '1000000000000000000', currency: 'CHF' }, key);
      expect(replay.status).toBe(422);
      expect(replay.headers['idempotent-replayed']).toBe('true');
      // The same-currency fast path (one SQL statement) refuses too.
      expectOutOfRange(await operate(root, c.id, { action: 'add_funds', amount: '9999999999999999999999' }));
      expectOutOfRange(await operate(root, c.id, { action: 'credit', amount: '9999999999999999999999', currency: 'USD' }));
      // Nothing was written, and the customer still works.
      const after = await root.get(`/v1/customers/${c.id}`).expect(200);
      expect(after.body.balance).toBe('999999999999000000000000000000.00');
      const ledger = await root.get(`/v1/customers/${c.id}/balance-operations`).expect(200);
      expect(ledger.body.items).toHaveLength(1);
      await operate(root, c.id, { action: 'debit', amount: '1' }).expect(201);
    });
  });

  describe('routing groups deleted while a customer is created with them', () => {
    it('never answers 500; either the customer is created and the delete is a 409, or the delete wins and the create is a 400', async () => {
      const tariffId = await createTariff(root);
      const outcomes = new Set<string>();
      for (let i = 0; i < 25; i++) {
        const group = await root.post('/v1/routing-groups', { name: uniqueName('race'), policy: 'priority' }).expect(201);
        const create = root.post('/v1/customers', {
          name: uniqueName('racer'),
          tariffId,
          webLogin: uniqueName('racer'),
          webPassword: 'password-123',
          routingGroupId: group.body.id,
        });
        const [created, deleted] = await Promise.all([
          create.then((r) => r),
          new Promise((resolve) => setTimeout(resolve, i % 5)).then(() => root.delete(`/v1/routing-groups/${group.body.id}`)),
        ]);
        outcomes.add(`${created.status}/${deleted.status}`);
        if (created.status === 201) {
          expectProblem(deleted, 409);
          expect(created.body.routingGroupId).toBe(group.body.id);
          await root.get(`/v1/routing-groups/${group.body.id}`).expect(200);
        } else {
          expect(deleted.status).toBe(204);
          expectProblem(created, 400);
          expect(created.body.errors).toEqual([{ pointer: '/routingGroupId', detail: expect.any(String) }]);
          await root.get(`/v1/routing-groups/${group.body.id}`).expect(404);
        }
      }
      expect([...outcomes].every((o) => o === '201/409' || o === '400/204')).toBe(true);
    });
  });

  describe('names are NFC-normalized and trimmed', () => {
    const NFC = 'Caf\u00e9';
    const NFD = 'Cafe\u0301';

    it('customers: NFC and NFD spellings are one name among siblings; spaces at the ends are dropped; blank is a 400', async () => {
      const parent = await createCustomer(t, root);
      const tariffId = await createTariff(parent);
      const body = (name: string) => ({ name, tariffId, webLogin: uniqueName('login'), webPassword: 'password-123' });
      const first = await parent.post('/v1/customers', body(`  ${NFD} Bar\u00a0`)).expect(201);
      expect(first.body.name).toBe(`${NFC} Bar`);
      expectProblem(await parent.post('/v1/customers', body(`${NFC} Bar`)), 409);
      expectProblem(await parent.post('/v1/customers', body(`${NFD} Bar `)), 409);
      for (const blank of ['', '   ', '\t\n\u00a0']) {
        const res = await parent.post('/v1/customers', body(blank));
        expectProblem(res, 400);
        expect(res.body.errors).toEqual([{ pointer: '/name', detail: expect.stringContaining('empty') }]);
      }
      const other = await parent.post('/v1/customers', body('Other')).expect(201);
      expectProblem(await parent.patch(`/v1/customers/${other.body.id}`, { name: ` ${NFD} Bar` }), 409);
      expectProblem(await parent.patch(`/v1/customers/${other.body.id}`, { name: ' ' }), 400);
      expect((await parent.patch(`/v1/customers/${other.body.id}`, { name: ` ${NFD} ` }).expect(200)).body.name).toBe(NFC);
      // Searching with either spelling finds the name.
      const found = await parent.get(`/v1/customers?q=${encodeURIComponent(` ${NFD} B`)}`).expect(200);
      expect(found.body.items.map((c: { name: string }) => c.name)).toEqual([`${NFC} Bar`]);
    });

    it('tariffs, routing groups and API keys too', async () => {
      const owner = await createCustomer(t, root);
      const tariff = await owner.post('/v1/tariffs', { name: ` ${NFD} `, currency: 'USD' }).expect(201);
      expect(tariff.body.name).toBe(NFC);
      expectProblem(await owner.post('/v1/tariffs', { name: NFC, currency: 'USD' }), 409);
      expectProblem(await owner.post('/v1/tariffs', { name: '  ', currency: 'USD' }), 400);

      const group = `${NFD}-${randomUUID()}`;
      const created = await root.post('/v1/routing-groups', { name: `${group}  `, policy: 'priority' }).expect(201);
      expect(created.body.name).toBe(group.normalize('NFC'));
      expectProblem(await root.post('/v1/routing-groups', { name: group.normalize('NFC'), policy: 'weighted' }), 409);
      expectProblem(await root.post('/v1/routing-groups', { name: ' ', policy: 'weighted' }), 400);

      const key = await owner.post('/v1/api-keys', { name: ` ${NFD} sync ` }).expect(201);
      expect(key.body.name).toBe(`${NFC} sync`);
      expectProblem(await owner.post('/v1/api-keys', { name: '\u3000' }), 400);
    });
  });

  it('pages the exchange-rate table with limit and cursor', async () => {
    const owner = await createCustomer(t, root);
    for (const currency of ['EUR', 'GBP', 'JPY']) await owner.put(`/v1/exchange-rates/${currency}`, { rate: '1.5' }).expect(200);
    const first = await owner.get('/v1/exchange-rates?limit=2').expect(200);
    expect(first.body.items.map((r: { currency: string }) => r.currency)).toEqual(['EUR', 'GBP']);
    const second = await owner.get(`/v1/exchange-rates?limit=2&cursor=${first.body.nextCursor}`).expect(200);
    expect(second.body).toEqual({ items: [expect.objectContaining({ currency: 'JPY' })], nextCursor: null });
    expectProblem(await owner.get('/v1/exchange-rates?limit=201'), 400);
  });

  describe('bodies over 1 MiB', () => {
    it('are documented as 413 problems on every operation that takes a body', () => {
      const document = JSON.parse(readFileSync(`${__dirname}/../openapi/openapi.json`, 'utf8'));
      const withBody: string[] = [];
      for (const [path, item] of Object.entries(document.paths as Record<string, Record<string, Record<string, unknown>>>)) {
        for (const [method, operation] of Object.entries(item)) {
          if (!operation.requestBody) continue;
          withBody.push(`${method} ${path}`);
          const responses = operation.responses as Record<string, { content?: Record<string, { schema: { $ref: string } }> }>;
          expect({ operation: `${method} ${path}`, has413: '413' in responses }).toEqual({ operation: `${method} ${path}`, has413: true });
          expect(responses['413'].content!['application/problem+json'].schema.$ref).toBe('#/components/schemas/ProblemDto');
        }
      }
      expect(withBody).toEqual(expect.arrayContaining(['post /v1/tariffs', 'post /v1/customers', 'put /v1/tariffs/{id}/rates']));
    });

    it('really answer 413 problem+json', async () => {
      const big = 'x'.repeat(1024 * 1024 + 1);
      const tariff = await root.post('/v1/tariffs', { name: 'big', currency: 'USD', description: big });
      expectProblem(tariff, 413);
      const login = await t.http().post('/v1/auth/login').send({ login: 'root', password: big });
      expectProblem(login, 413);
    });
  });
});
