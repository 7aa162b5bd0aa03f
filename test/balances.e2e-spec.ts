import Big from 'big.js';
import { randomUUID } from 'node:crypto';
import { formatMoney, formatMoneySql } from '../src/common/money';
import { Actor, createAccount, createCustomer, expectProblem, loginRoot } from './setup/factories';
import { startTestApp, TestApp } from './setup/test-app';

const op = (actor: Actor, customerId: string, body: object, key: string = randomUUID()) =>
  actor.post(`/v1/customers/${customerId}/balance-operations`, body).set('Idempotency-Key', key);

async function ledgerSum(t: TestApp, customerId: string): Promise<{ balance: string; sum: string; entries: number }> {
  const [row] = await t.dataSource.query(
    `SELECT b.balance::text AS balance, COALESCE(sum(e.converted_amount), 0)::text AS sum, count(e.id)::int AS entries
       FROM customer_balances b LEFT JOIN ledger_entries e ON e.customer_id = b.customer_id WHERE b.customer_id = $1 GROUP BY b.balance`,
    [customerId],
  );
  return row;
}

describe('balance operations and the ledger', () => {
  let t: TestApp;
  let root: Actor;

  beforeAll(async () => {
    t = await startTestApp();
    root = await loginRoot(t);
  });
  afterAll(() => t.close());

  it('applies add_funds, credit and debit with exact decimal strings', async () => {
    const c = await createCustomer(t, root, { balance: '10.10' });
    const added = await op(root, c.id, { action: 'add_funds', amount: '0.1', notes: 'payment #1' }).expect(201);
    expect(added.body).toMatchObject({
      action: 'add_funds',
      amount: '0.10',
      currency: 'USD',
      exchangeRate: '1.0',
      convertedAmount: '0.10',
      balanceAfter: '10.20',
      notes: 'payment #1',
      actor: root.id,
    });
    await op(root, c.id, { action: 'credit', amount: '0.2' }).expect(201);
    const debit = await op(root, c.id, { action: 'debit', amount: '0.00000001' }).expect(201);
    expect(debit.body).toMatchObject({ convertedAmount: '-0.00000001', balanceAfter: '10.39999999' });
    const me = await c.get('/v1/me').expect(200);
    expect(me.body.balance).toBe('10.39999999');
    const sums = await ledgerSum(t, c.id);
    expect(new Big(sums.balance).eq(sums.sum)).toBe(true);
    expect(sums.entries).toBe(4); // the opening balance is the first entry
  });

  it('lets exactly as many concurrent debits through as the available credit covers', async () => {
    const c = await createCustomer(t, root, { balance: '10.00', creditLimit: '15.00' });
    const results = await Promise.all(
      Array.from({ length: 40 }, () => op(root, c.id, { action: 'debit', amount: '1.00' })),
    );
    const ok = results.filter((r) => r.status === 201);
    const refused = results.filter((r) => r.status === 422);
    expect(ok).toHaveLength(25);
    expect(refused).toHaveLength(15);
    for (const r of refused) {
      expectProblem(r, 422);
      expect(r.body).toMatchObject({ type: 'https://canopy.dev/problems/insufficient-funds', availableCredit: '0.00' });
    }
    const customer = await root.get(`/v1/customers/${c.id}`).expect(200);
    expect(customer.body).toMatchObject({ balance: '-15.00', availableCredit: '0.00' });
    const debits = await root.get(`/v1/customers/${c.id}/balance-operations?action=debit&limit=200`).expect(200);
    expect(debits.body.items).toHaveLength(25);
    const sums = await ledgerSum(t, c.id);
    expect(sums.balance).toBe('-15.00000000');
    expect(new Big(sums.sum).toFixed(8)).toBe('-15.00000000');
  });

  it('allows an overdraft only when asked', async () => {
    const c = await createCustomer(t, root, { creditLimit: '5' });
    const refused = await op(root, c.id, { action: 'debit', amount: '6' }).expect(422);
    expect(refused.body.availableCredit).toBe('5.00');
    const allowed = await op(root, c.id, { action: 'debit', amount: '6', allowOverdraft: true }).expect(201);
    expect(allowed.body.balanceAfter).toBe('-6.00');
    const bad = await op(root, c.id, { action: 'credit', amount: '1', allowOverdraft: true }).expect(400);
    expect(bad.body.errors[0].pointer).toBe('/allowOverdraft');
  });

  it('applies one request sent 10 times at once with one key exactly once, with identical bodies', async () => {
    const c = await createCustomer(t, root);
    const key = randomUUID();
    const body = { action: 'add_funds', amount: '7.77' };
    const results = await Promise.all(Array.from({ length: 10 }, () => op(root, c.id, body, key)));
    for (const r of results) {
      expect(r.status).toBe(201);
      expect(r.body).toEqual(results[0].body);
    }
    expect(results.filter((r) => r.headers['idempotent-replayed'] === 'true')).toHaveLength(9);
    const sums = await ledgerSum(t, c.id);
    expect(sums).toMatchObject({ balance: '7.77000000', entries: 1 });
    const other = await op(root, c.id, { action: 'add_funds', amount: '7.78' }, key).expect(422);
    expect(other.body.type).toBe('https://canopy.dev/problems/idempotency-key-reused');
  });

  it('replays a refusal as it was, even after the funds arrive', async () => {
    const c = await createCustomer(t, root);
    const key = randomUUID();
    const first = await op(root, c.id, { action: 'debit', amount: '3' }, key).expect(422);
    await op(root, c.id, { action: 'add_funds', amount: '10' }).expect(201);
    const again = await op(root, c.id, { action: 'debit', amount: '3' }, key).expect(422);
    expect(again.body).toEqual(first.body);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.headers['content-type']).toMatch(/^application\/problem\+json/);
  });

  it('requires an Idempotency-Key and decimal strings', async () => {
    const c = await createCustomer(t, root);
    const missing = await root.post(`/v1/customers/${c.id}/balance-operations`, { action: 'credit', amount: '1' }).expect(400);
    expect(missing.body.errors).toEqual([{ parameter: 'Idempotency-Key', detail: expect.stringContaining('required') }]);
    const cases: Array<[object, string]> = [
      [{ action: 'credit', amount: 1 }, '/amount'],
      [{ action: 'credit', amount: '1.123456789' }, '/amount'],
      [{ action: 'credit', amount: '0' }, '/amount'],
      [{ action: 'credit', amount: '-5' }, '/amount'],
      [{ action: 'credit', amount: '1e3' }, '/amount'],
      [{ action: 'refund', amount: '1' }, '/action'],
      [{ action: 'credit', amount: '1', currency: 'XYZ' }, '/currency'],
      [{ action: 'credit', amount: '1', balance: '5' }, '/balance'],
      // A batch operation's fields are not a single operation's (the quick check must not take them).
      [{ action: 'credit', amount: '1', customerId: c.id }, '/customerId'],
      [{ action: 'credit', amount: '1', notes: 'a\u0000b' }, '/notes'],
      [{ action: 'credit', amount: '1', notes: 'x'.repeat(1025) }, '/notes'],
      [{ action: 'debit', amount: '1', allowOverdraft: 'yes' }, '/allowOverdraft'],
      [{ action: 'credit', amount: '1', externalReference: '' }, '/externalReference'],
    ];
    for (const [body, pointer] of cases) {
      const res = await op(root, c.id, body).expect(400);
      expectProblem(res, 400);
      expect(res.body.errors.map((e: { pointer: string }) => e.pointer)).toContain(pointer);
    }
  });

  it('converts with the parent’s table, exactly, and names a missing rate', async () => {
    const a = await createCustomer(t, root, { baseCurrency: 'EUR' });
    const noRate = await op(root, a.id, { action: 'add_funds', amount: '10', currency: 'GBP' }).expect(422);
    expect(noRate.body).toMatchObject({ type: 'https://canopy.dev/problems/missing-exchange-rate', currency: 'GBP' });
    await root.put('/v1/exchange-rates/EUR', { rate: '1.25' }).expect(200);
    // 10 USD into EUR with the root's table: 10 × (1 / 1.25) = 8
    const usd = await op(root, a.id, { action: 'add_funds', amount: '10', currency: 'USD' }).expect(201);
    expect(usd.body).toMatchObject({ exchangeRate: '0.8', convertedAmount: '8.00', balanceAfter: '8.00' });
    // A's own table is not used for A's balance: setting a rate there changes nothing.
    await a.put('/v1/exchange-rates/USD', { rate: '100' }).expect(200);
    const again = await op(root, a.id, { action: 'add_funds', amount: '0.00000003', currency: 'USD' }).expect(201);
    // 0.00000003 × 0.8 = 0.000000024 → half-even at 8 places → 0.00000002
    expect(again.body.convertedAmount).toBe('0.00000002');
    const child = await createCustomer(t, a, { baseCurrency: 'USD' });
    // C is billed by A: A's table (USD = 100 EUR... per A's base) converts money posted to C.
    await op(a, child.id, { action: 'add_funds', amount: '2', currency: 'EUR' }).expect(201).then((r) => {
      expect(r.body).toMatchObject({ exchangeRate: '0.01', convertedAmount: '0.02' });
    });
  });

  it('never lets a customer operate on itself or see its ancestors’ and siblings’ ledgers', async () => {
    const a = await createCustomer(t, root, { balance: '5' });
    const b = await createCustomer(t, root, { balance: '5' });
    const c = await createCustomer(t, a);
    await op(a, c.id, { action: 'add_funds', amount: '1' }).expect(201);
    const self = await op(a, a.id, { action: 'add_funds', amount: '1' }).expect(403);
    expectProblem(self, 403);
    for (const [who, target] of [[a, b], [c, a], [c, b], [a, root], [b, c]] as const) {
      expectProblem(await who.get(`/v1/customers/${target.id}/balance-operations`).expect(404), 404);
      expectProblem(await op(who, target.id, { action: 'add_funds', amount: '1' }).expect(404), 404);
    }
    const own = await a.get(`/v1/customers/${a.id}/balance-operations`).expect(200);
    expect(own.body.items).toHaveLength(1);
    expect(own.body.items[0]).toMatchObject({ action: 'opening_balance', actor: null, idempotencyKey: null });
    const childView = await c.get(`/v1/customers/${c.id}/balance-operations`).expect(200);
    expect(childView.body.items[0]).toMatchObject({ action: 'add_funds', actor: null });
  });

  it('pages the ledger newest first and filters by action and time', async () => {
    const c = await createCustomer(t, root);
    for (let i = 1; i <= 5; i++) await op(root, c.id, { action: i % 2 ? 'credit' : 'add_funds', amount: String(i) }).expect(201);
    const first = await root.get(`/v1/customers/${c.id}/balance-operations?limit=2`).expect(200);
    expect(first.body.items.map((e: { amount: string }) => e.amount)).toEqual(['5.00', '4.00']);
    const second = await root.get(`/v1/customers/${c.id}/balance-operations?limit=2&cursor=${first.body.nextCursor}`).expect(200);
    expect(second.body.items.map((e: { amount: string }) => e.amount)).toEqual(['3.00', '2.00']);
    const credits = await root.get(`/v1/customers/${c.id}/balance-operations?action=credit`).expect(200);
    expect(credits.body.items.map((e: { amount: string }) => e.amount)).toEqual(['5.00', '3.00', '1.00']);
    const future = new Date(Date.now() + 60_000).toISOString();
    const none = await root.get(`/v1/customers/${c.id}/balance-operations?from=${future}`).expect(200);
    expect(none.body.items).toEqual([]);
    await root.get(`/v1/customers/${c.id}/balance-operations?from=yesterday`).expect(400);
    await root.get(`/v1/customers/${c.id}/balance-operations?cursor=garbage`).expect(400);
  });

  it('is refused by the database itself when anyone tries to change or delete an entry', async () => {
    const c = await createCustomer(t, root, { balance: '1' });
    await expect(t.dataSource.query(`UPDATE ledger_entries SET amount = 100 WHERE customer_id = $1`, [c.id])).rejects.toThrow(/immutable/);
    await expect(t.dataSource.query(`DELETE FROM ledger_entries WHERE customer_id = $1`, [c.id])).rejects.toThrow(/immutable/);
  });

  it('is refused by the database when anyone removes a customer or an account the ledger names (they are deleted by marking)', async () => {
    const c = await createCustomer(t, root, { balance: '1' });
    const account = await createAccount(root, c, { balance: '2' });
    await expect(t.dataSource.query(`DELETE FROM customers WHERE id = $1`, [c.id])).rejects.toThrow(/customers are deleted by marking them/);
    await expect(t.dataSource.query(`DELETE FROM accounts WHERE id = $1`, [account.id])).rejects.toThrow(/accounts are deleted by marking them/);
    await expect(t.dataSource.query(`TRUNCATE accounts CASCADE`)).rejects.toThrow(/accounts are deleted by marking them .*; TRUNCATE refused/);
    await expect(t.dataSource.query(`TRUNCATE customers CASCADE`)).rejects.toThrow(/customers are deleted by marking them .*; TRUNCATE refused/);
    // Deleting through the API marks them, and their ledgers stay readable by whoever may see them.
    await root.delete(`/v1/accounts/${account.id}`).expect(204);
    const [{ n }] = await t.dataSource.query(`SELECT count(*)::int AS n FROM ledger_entries WHERE customer_id = $1 OR account_id = $2`, [c.id, account.id]);
    expect(n).toBe(2);
  });

  it('replays other POSTs with the same Idempotency-Key', async () => {
    const key = randomUUID();
    const body = { name: 'idempotent tariff', currency: 'USD' };
    const first = await root.post('/v1/tariffs', body).set('Idempotency-Key', key).expect(201);
    const again = await root.post('/v1/tariffs', body).set('Idempotency-Key', key).expect(201);
    expect(again.body).toEqual(first.body);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.headers.location).toBe(first.headers.location);
    const [{ n }] = await t.dataSource.query(`SELECT count(*)::int AS n FROM tariffs WHERE name = 'idempotent tariff'`);
    expect(n).toBe(1);
    await root.post('/v1/tariffs', { ...body, name: 'other' }).set('Idempotency-Key', key).expect(422);
  });

  it('formats money in SQL (the one-statement posting\'s audit event) exactly as formatMoney does', async () => {
    const values = ['0', '1', '-1', '12.5', '-12.5', '0.1', '0.01', '0.001', '-0.00000001', '10.39999999', '1234567.89000000', '99999999999999999999999999999.99999999', '-7.10000000'];
    const rows: Array<{ v: string; text: string }> = await t.dataSource.query(
      `SELECT v::text AS v, ${formatMoneySql('v')} AS text FROM unnest($1::numeric(38,8)[]) AS v`,
      [values],
    );
    expect(rows.map((r) => r.text)).toEqual(values.map((v) => formatMoney(v)));
  });
});
