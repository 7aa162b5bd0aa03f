import { Actor, createCustomer, expectProblem, loginRoot } from './setup/factories';
import { startTestApp, TestApp } from './setup/test-app';

describe('exchange rates and display', () => {
  let t: TestApp;
  let root: Actor, a: Actor, b: Actor, c: Actor;

  beforeAll(async () => {
    t = await startTestApp();
    root = await loginRoot(t);
    a = await createCustomer(t, root, { name: 'A', baseCurrency: 'EUR', balance: '100', creditLimit: '50.5' });
    b = await createCustomer(t, root, { name: 'B' });
    c = await createCustomer(t, a, { name: 'C', baseCurrency: 'GBP', balance: '10' });
  });
  afterAll(() => t.close());

  it('sets, lists, replaces and deletes a rate, keeping the history', async () => {
    const set = await root.put('/v1/exchange-rates/EUR', { rate: '1.1' }).expect(200);
    expect(set.body).toMatchObject({ currency: 'EUR', baseCurrency: 'USD', rate: '1.1', version: 1 });
    await root.put('/v1/exchange-rates/EUR', { rate: '1.0825' }).expect(200);
    await root.put('/v1/exchange-rates/JPY', { rate: '0.006712345678' }).expect(200);
    const list = await root.get('/v1/exchange-rates').expect(200);
    expect(list.body.items.map((r: { currency: string; rate: string }) => [r.currency, r.rate])).toEqual([
      ['EUR', '1.0825'],
      ['JPY', '0.006712345678'],
    ]);
    await root.delete('/v1/exchange-rates/JPY').expect(204);
    await root.delete('/v1/exchange-rates/JPY').expect(404);
    const history = await root.get('/v1/exchange-rates/JPY/history').expect(200);
    expect(history.body.items.map((h: { rate: string | null }) => h.rate)).toEqual([null, '0.006712345678']);
    const eurHistory = await root.get('/v1/exchange-rates/EUR/history?limit=1').expect(200);
    expect(eurHistory.body.items).toEqual([expect.objectContaining({ currency: 'EUR', rate: '1.0825' })]);
    const older = await root.get(`/v1/exchange-rates/EUR/history?limit=1&cursor=${eurHistory.body.nextCursor}`).expect(200);
    expect(older.body.items.map((h: { rate: string }) => h.rate)).toEqual(['1.1']);
    expect(older.body.nextCursor).toBeNull();
    for (const item of history.body.items) expect(new Date(item.at).getTime()).toBeGreaterThan(0);
  });

  it('shows balances in the viewer’s currency with the viewer’s own table, null where a rate is missing', async () => {
    await root.put('/v1/exchange-rates/EUR', { rate: '1.1' }).expect(200);
    const seen = await root.get(`/v1/customers/${a.id}`).expect(200);
    expect(seen.body).toMatchObject({ balance: '100.00', creditLimit: '50.50', availableCredit: '150.50', baseCurrency: 'EUR' });
    expect(seen.body.display).toEqual({ currency: 'USD', balance: '110.00', creditLimit: '55.55' });
    // A sees C (GBP) through A's own (EUR) table, which has no GBP rate yet.
    const noRate = await a.get(`/v1/customers/${c.id}`).expect(200);
    expect(noRate.body.display).toEqual({ currency: 'EUR', balance: null, creditLimit: null });
    await a.put('/v1/exchange-rates/GBP', { rate: '1.17' }).expect(200);
    const withRate = await a.get(`/v1/customers/${c.id}`).expect(200);
    expect(withRate.body.display).toEqual({ currency: 'EUR', balance: '11.70', creditLimit: '0.00' });
    // The root's table is not A's: the root still has no GBP rate.
    const rootView = await root.get(`/v1/customers/${c.id}`).expect(200);
    expect(rootView.body.display.balance).toBeNull();
    const me = await a.get('/v1/me').expect(200);
    expect(me.body.display).toEqual({ currency: 'EUR', balance: '100.00', creditLimit: '50.50' });
  });

  it('lets a customer manage a descendant’s table, and nobody another subtree’s', async () => {
    await a.put(`/v1/exchange-rates/USD?customerId=${c.id}`, { rate: '0.79' }).expect(200);
    const cTable = await c.get('/v1/exchange-rates').expect(200);
    expect(cTable.body.items).toEqual([expect.objectContaining({ currency: 'USD', baseCurrency: 'GBP', rate: '0.79' })]);
    for (const [who, url] of [
      [b, `/v1/exchange-rates?customerId=${a.id}`],
      [c, `/v1/exchange-rates?customerId=${a.id}`],
      [b, `/v1/exchange-rates/USD/history?customerId=${c.id}`],
    ] as const) {
      expectProblem(await who.get(url).expect(404), 404);
    }
    expectProblem(await b.put(`/v1/exchange-rates/EUR?customerId=${a.id}`, { rate: '2' }).expect(404), 404);
    expectProblem(await b.delete(`/v1/exchange-rates/USD?customerId=${c.id}`).expect(404), 404);
    const untouched = await c.get('/v1/exchange-rates').expect(200);
    expect(untouched.body.items[0].rate).toBe('0.79');
  });

  it('rejects bad rates and currencies with a problem naming the field', async () => {
    const cases: Array<[string, unknown, string]> = [
      ['/v1/exchange-rates/EUR', { rate: '0' }, '/rate'],
      ['/v1/exchange-rates/EUR', { rate: '-1' }, '/rate'],
      ['/v1/exchange-rates/EUR', { rate: 1.1 }, '/rate'],
      ['/v1/exchange-rates/EUR', { rate: '1.1234567890123' }, '/rate'],
      ['/v1/exchange-rates/EUR', { rate: '1', extra: true }, '/extra'],
      ['/v1/exchange-rates/EUR', {}, '/rate'],
    ];
    for (const [url, body, pointer] of cases) {
      const res = await root.put(url, body as object).expect(400);
      expectProblem(res, 400);
      expect(res.body.errors.map((e: { pointer: string }) => e.pointer)).toContain(pointer);
    }
    for (const code of ['ABC', 'eur', 'EURO']) {
      const res = await root.put(`/v1/exchange-rates/${code}`, { rate: '1' }).expect(400);
      expect(res.body.errors).toEqual([{ parameter: 'currency', detail: expect.stringContaining('ISO 4217') }]);
    }
    const base = await root.put('/v1/exchange-rates/USD', { rate: '1' }).expect(400);
    expect(base.body.errors[0]).toMatchObject({ parameter: 'currency' });
    const badCustomer = await root.get('/v1/exchange-rates?customerId=nope').expect(400);
    expect(badCustomer.body.errors[0]).toMatchObject({ parameter: 'customerId' });
  });

  it('needs exchange-rates.manage to change a table', async () => {
    const key = await root.post('/v1/api-keys', { name: 'read-only', permissions: ['tariffs.manage'] }).expect(201);
    const token = await t.http().post('/v1/auth/token').send({ apiKey: key.body.apiKey }).expect(200);
    const res = await t
      .http()
      .put('/v1/exchange-rates/EUR')
      .set('Authorization', `Bearer ${token.body.accessToken}`)
      .send({ rate: '3' })
      .expect(403);
    expect(res.body).toMatchObject({ status: 403, permission: 'exchange-rates.manage' });
  });
});
