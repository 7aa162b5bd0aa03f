import { Actor, createAccount, createCustomer, createTariff, loginRoot } from './setup/factories';
import { startTestApp, TestApp } from './setup/test-app';

type Call = { callId: string; accountId: string; number: string; connectTime: string; duration: number };

const PAST = '2025-01-01T00:00:00Z';
const CONNECT = '2026-01-15T10:00:00Z';


describe('POST /v1/calls', () => {
  let t: TestApp;
  let root: Actor;
  // The chain: root (USD) → r1 (USD) → r2 (EUR) → account (EUR).
  let r1: Actor;
  let r2: Actor;
  let account: { id: string; tariffId: string };
  let t1: string;
  let t2: string;
  let ta: string;
  let seq = 0;
  const callId = () => `call-${++seq}-${Date.now()}`;
  const call = (over: Partial<Call> = {}): Call => ({ callId: callId(), accountId: account.id, number: '+442071234567', connectTime: CONNECT, duration: 61, ...over });
  const post = (actor: Actor, calls: unknown) => actor.post('/v1/calls', { calls });

  beforeAll(async () => {
    t = await startTestApp();
    root = await loginRoot(t);
    // root sells to r1 on t1 (USD): 44 at 0.60/min, per second; a later 44 (effective after the call) is ignored.
    t1 = await createTariff(root, { currency: 'USD' });
    await root.post(`/v1/tariffs/${t1}/rates`, { prefix: '44', price: '0.60', firstInterval: 1, nextInterval: 1, effectiveFrom: PAST }).expect(201);
    await root.post(`/v1/tariffs/${t1}/rates`, { prefix: '44', price: '9.99', firstInterval: 1, nextInterval: 1, effectiveFrom: '2026-02-01T00:00:00Z' }).expect(201);
    r1 = await createCustomer(t, root, { tariffId: t1 });
    // r1 sells to r2 (EUR) on t2 (USD): connect fee 0.05, 44 at 1.00/min + 0.01, 30/30; r1's table: 1 EUR = 1.25 USD.
    t2 = await createTariff(r1, { currency: 'USD', connectFee: '0.05' });
    await r1.post(`/v1/tariffs/${t2}/rates`, { prefix: '44', price: '1.00', connectFee: '0.01', firstInterval: 30, nextInterval: 30, effectiveFrom: PAST }).expect(201);
    await r1.put('/v1/exchange-rates/EUR', { rate: '1.25' }).expect(200);
    r2 = await createCustomer(t, r1, { tariffId: t2, baseCurrency: 'EUR' });
    // r2 sells to its account on ta (EUR): 5 free seconds, 4420 at 2.00000015/min 60/6 (44 at 3.00 loses: shorter prefix).
    ta = await createTariff(r2, { currency: 'EUR', freeSeconds: 5 });
    await r2.post(`/v1/tariffs/${ta}/rates`, { prefix: '4420', price: '2.00000015', firstInterval: 60, nextInterval: 6, effectiveFrom: PAST }).expect(201);
    await r2.post(`/v1/tariffs/${ta}/rates`, { prefix: '44', price: '3.00', firstInterval: 60, nextInterval: 6, effectiveFrom: PAST }).expect(201);
    account = await createAccount(r2, r2, { tariffId: ta });
  });
  afterAll(() => t.close());

  it('rates a call at every level with hand-computed prices and charges each party once', async () => {
    const c = call();
    const res = await post(root, [c]).expect(200);
    expect(res.body.items).toHaveLength(1);
    const item = res.body.items[0];
    expect(item).toMatchObject({ callId: c.callId, status: 'rated' });
    const view = item.call;
    expect(view).toMatchObject({ callId: c.callId, accountId: account.id, customerId: r2.id, number: c.number, connectTime: '2026-01-15T10:00:00.000Z', duration: 61 });
    expect(view.charges).toEqual([
      // 4420: 60 + ⌈1/6⌉×6 = 66 s; 2.00000015 × 66 / 60 = 2.200000165 → half-even 2.20000016 (half-up would be …17).
      expect.objectContaining({ party: { type: 'account', id: account.id }, tariffId: ta, prefix: '4420', price: '2.00000015', billedSeconds: 66, amount: '2.20000016', currency: 'EUR', convertedAmount: '2.20000016', chargedCurrency: 'EUR' }),
      // 30 + ⌈31/30⌉×30 = 90 s; 0.05 + 0.01 + 1.00 × 90 / 60 = 1.56 USD → × (1 / 1.25) = 1.248 EUR with r1's table.
      expect.objectContaining({ party: { type: 'customer', id: r2.id }, tariffId: t2, prefix: '44', price: '1.00', billedSeconds: 90, amount: '1.56', currency: 'USD', convertedAmount: '1.248', chargedCurrency: 'EUR' }),
      // 61 s at 0.60 (the 9.99 rate takes effect after the call): 0.61 USD.
      expect.objectContaining({ party: { type: 'customer', id: r1.id }, tariffId: t1, prefix: '44', price: '0.60', billedSeconds: 61, amount: '0.61', currency: 'USD', convertedAmount: '0.61', chargedCurrency: 'USD' }),
    ]);
    // The root's business: r1's charge, at no cost.
    expect(view.viewer).toEqual({ revenue: '0.61', cost: '0.00', margin: '0.61', currency: 'USD' });
    // One usage entry per party, notes = callId, negative; balances follow.
    for (const [path, amount] of [
      [`/v1/accounts/${account.id}`, '-2.20000016'],
      [`/v1/customers/${r2.id}`, '-1.248'],
      [`/v1/customers/${r1.id}`, '-0.61'],
    ]) {
      const ledger = await root.get(`${path}/balance-operations?action=usage`).expect(200);
      const entries = ledger.body.items.filter((e: { notes: string }) => e.notes === c.callId);
      expect(entries).toHaveLength(1);
      expect(entries[0]).toMatchObject({ action: 'usage', convertedAmount: amount, actor: root.id });
    }
    // ledgerEntryIds point at those entries.
    for (const charge of view.charges) expect(charge.ledgerEntryId).toEqual(expect.any(String));
  });
});
