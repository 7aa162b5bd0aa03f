import { Actor, createAccount, createCustomer, createTariff, expectProblem, loginRoot, restrictedActor } from './setup/factories';
import { startTestApp, TestApp } from './setup/test-app';

type Call = { callId: string; accountId: string; number: string; connectTime: string; duration: number };

const PAST = '2025-01-01T00:00:00Z';
const CONNECT = '2026-01-15T10:00:00Z';


/** Adds `permission` to a customer's grants (by its parent). */
async function grant(parent: Actor, child: Actor, permission: string) {
  const now = await parent.get(`/v1/customers/${child.id}/permissions`).expect(200);
  await parent.put(`/v1/customers/${child.id}/permissions`, { permissions: [...now.body.permissions, permission] }).expect(200);
}

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

  it('charges nothing to a level whose free seconds cover the call: a charge row without a ledger entry', async () => {
    const c = call({ duration: 5 });
    const res = await post(root, [c]).expect(200);
    const [account0, r2Level, r1Level] = res.body.items[0].call.charges;
    expect(account0).toMatchObject({ billedSeconds: 0, amount: '0.00', convertedAmount: '0.00', ledgerEntryId: null });
    // r2: 30 s (first interval) at 1.00 + 0.06 fees = 0.56 USD = 0.448 EUR; r1: 5 s at 0.60 = 0.05 USD.
    expect(r2Level).toMatchObject({ billedSeconds: 30, amount: '0.56', convertedAmount: '0.448', ledgerEntryId: expect.any(String) });
    expect(r1Level).toMatchObject({ billedSeconds: 5, amount: '0.05', ledgerEntryId: expect.any(String) });
    const ledger = await root.get(`/v1/accounts/${account.id}/balance-operations?action=usage`).expect(200);
    expect(ledger.body.items.filter((e: { notes: string }) => e.notes === c.callId)).toEqual([]);
  });

  it('shows a mid-level poster its own business and nothing above it', async () => {
    await grant(root, r1, 'usage.post');
    const res = await post(r1, [call()]).expect(200);
    const view = res.body.items[0].call;
    expect(view.charges.map((c: { party: { id: string } }) => c.party.id)).toEqual([account.id, r2.id, r1.id]);
    // r1 sold r2 1.56 USD and paid root 0.61 USD.
    expect(view.viewer).toEqual({ revenue: '1.56', cost: '0.61', margin: '0.95', currency: 'USD' });
    // r2, granted usage.post by r1, sees only itself and its account: revenue 2.20000016 EUR, cost 1.248 EUR.
    await grant(r1, r2, 'usage.post');
    const own = await post(r2, [call()]).expect(200);
    expect(own.body.items[0].call.charges.map((c: { party: { id: string } }) => c.party.id)).toEqual([account.id, r2.id]);
    expect(own.body.items[0].call.viewer).toEqual({ revenue: '2.20000016', cost: '1.248', margin: '0.95200016', currency: 'EUR' });
    expect(JSON.stringify(own.body)).not.toContain(r1.id);
    expect(JSON.stringify(own.body)).not.toContain(t1);
  });

  it('refuses each bad item with its pointer and rates the good ones', async () => {
    const good = call();
    const res = await post(root, [
      good,
      call({ number: '+44abc' }),
      call({ connectTime: '2026-01-15T10:00:00' }),
      call({ duration: 86401 }),
      call({ duration: -1 }),
      call({ duration: 1.5 }),
      { ...call(), extra: true },
      call({ callId: 'x'.repeat(129) }),
      call({ accountId: 'not-a-uuid' }),
      { callId: 'only-an-id' },
      'not an object',
    ]).expect(200);
    const items = res.body.items;
    expect(items).toHaveLength(11);
    expect(items[0]).toMatchObject({ callId: good.callId, status: 'rated' });
    const pointers = (i: number) => items[i].problem.errors.map((e: { pointer: string }) => e.pointer);
    for (let i = 1; i < items.length; i++) {
      expect(items[i]).toMatchObject({ status: 'refused', problem: { status: 400, type: expect.stringContaining('validation-error') } });
      expect(items[i].call).toBeUndefined();
    }
    expect(pointers(1)).toEqual(['/calls/1/number']);
    expect(pointers(2)).toEqual(['/calls/2/connectTime']);
    expect(pointers(3)).toEqual(['/calls/3/duration']);
    expect(pointers(4)).toEqual(['/calls/4/duration']);
    expect(pointers(5)).toEqual(['/calls/5/duration']);
    expect(pointers(6)).toEqual(['/calls/6/extra']);
    expect(pointers(7)).toEqual(['/calls/7/callId']);
    expect(pointers(8)).toEqual(['/calls/8/accountId']);
    expect(pointers(9)).toEqual(['/calls/9/accountId', '/calls/9/number', '/calls/9/connectTime', '/calls/9/duration']);
    expect(pointers(10)).toEqual(['/calls/10']);
    expect(items[9].callId).toBe('only-an-id');
  });

  it('answers a malformed body as a whole with 400, and more than 1,000 calls naming the limit', async () => {
    for (const body of [[], { calls: 'x' }, {}, { calls: [call()], other: 1 }, { calls: [] }]) {
      const res = await root.post('/v1/calls', body as object);
      expect(res.status).toBe(400);
      expectProblem(res, 400);
    }
    const many = Array.from({ length: 1001 }, () => call());
    const res = await post(root, many);
    expectProblem(res, 400);
    expect(res.body.errors).toEqual([expect.objectContaining({ pointer: '/calls', detail: expect.stringContaining('at most 1000') })]);
    // Nothing of it was posted.
    const [{ n }] = await t.dataSource.query(`SELECT count(*)::int AS n FROM calls WHERE call_id = $1`, [many[0].callId]);
    expect(n).toBe(0);
  });

  it('refuses the whole request with 403 naming usage.post when the caller lacks it', async () => {
    const other = await createCustomer(t, root);
    const res = await post(other, [call()]);
    expectProblem(res, 403);
    expect(res.body.permission).toBe('usage.post');
    const key = await restrictedActor(t, root, ['balances.operate']);
    const viaKey = await post(key, [call()]);
    expectProblem(viaKey, 403);
    expect(viaKey.body.permission).toBe('usage.post');
  });

  it('refuses with 404 an account outside the poster’s subtree, or deleted, and charges nothing', async () => {
    const sibling = await createCustomer(t, r1);
    const theirs = await createAccount(sibling, sibling);
    const gone = await createAccount(r2, r2, { tariffId: ta });
    await r2.delete(`/v1/accounts/${gone.id}`).expect(204);
    const res = await post(r2, [call({ accountId: theirs.id }), call({ accountId: gone.id }), call({ accountId: '00000000-0000-4000-8000-000000000000' })]).expect(200);
    for (const item of res.body.items) expect(item).toMatchObject({ status: 'refused', problem: { status: 404, type: expect.stringContaining('not-found') } });
    const [{ n }] = await t.dataSource.query(`SELECT count(*)::int AS n FROM calls WHERE call_id = ANY ($1)`, [res.body.items.map((i: { callId: string }) => i.callId)]);
    expect(n).toBe(0);
  });

  it('refuses a call with no rate naming a level the poster sees, never one above it; fixed, the same call rates', async () => {
    // r2 (granted usage.post by r1, itself granted by root) posts.
    await grant(root, r1, 'usage.post');
    await grant(r1, r2, 'usage.post');
    // 33: no rate in ta (the account's tariff, r2's own): named.
    const own = call({ number: '+33123456' });
    const first = await post(r2, [own]).expect(200);
    expect(first.body.items[0]).toMatchObject({ status: 'refused', problem: { status: 422, type: expect.stringContaining('no-rate'), party: { type: 'account', id: account.id } } });
    expect(first.body.items[0].problem.detail).toContain(account.id);
    // 49: rated by ta and t2, but not by t1 (r1's tariff, above r2): the level is not named.
    await r2.post(`/v1/tariffs/${ta}/rates`, { prefix: '49', price: '1.00', effectiveFrom: PAST }).expect(201);
    await r1.post(`/v1/tariffs/${t2}/rates`, { prefix: '49', price: '1.00', effectiveFrom: PAST }).expect(201);
    const above = call({ number: '+491234' });
    const second = await post(r2, [above]).expect(200);
    const problem = second.body.items[0].problem;
    expect(problem).toMatchObject({ status: 422, type: expect.stringContaining('no-rate') });
    expect(problem.party).toBeUndefined();
    expect(problem.detail).toMatch(/level above you/);
    expect(JSON.stringify(problem)).not.toContain(r1.id);
    expect(JSON.stringify(problem)).not.toContain(t1);
    // The same problem, root posting: r1 is named.
    const byRoot = await post(root, [call({ number: '+491234' })]).expect(200);
    expect(byRoot.body.items[0].problem).toMatchObject({ party: { type: 'customer', id: r1.id } });
    // Nothing was left behind: once root adds the rate, the very same call rates.
    await root.post(`/v1/tariffs/${t1}/rates`, { prefix: '49', price: '1.00', effectiveFrom: PAST }).expect(201);
    const again = await post(r2, [above]).expect(200);
    expect(again.body.items[0]).toMatchObject({ status: 'rated' });
  });

  it('refuses a call whose seller has no exchange rate for the conversion (missing-exchange-rate), naming the level when visible', async () => {
    const gbp = await createTariff(r1, { currency: 'GBP' });
    await r1.post(`/v1/tariffs/${gbp}/rates`, { prefix: '44', price: '1.00', effectiveFrom: PAST }).expect(201);
    const r3 = await createCustomer(t, r1, { tariffId: gbp, baseCurrency: 'EUR' });
    const tb = await createTariff(r3, { currency: 'EUR' });
    await r3.post(`/v1/tariffs/${tb}/rates`, { prefix: '44', price: '1.00', effectiveFrom: PAST }).expect(201);
    const acc = await createAccount(r3, r3, { tariffId: tb });
    const res = await post(root, [call({ accountId: acc.id })]).expect(200);
    expect(res.body.items[0]).toMatchObject({ status: 'refused', problem: { status: 422, type: expect.stringContaining('missing-exchange-rate'), party: { type: 'customer', id: r3.id } } });
  });

  it('refuses a call one of whose postings is refused (a balance out of range) while the others of the batch rate; nothing of it is left', async () => {
    const full = await createAccount(r2, r2, { tariffId: ta });
    // No operation reaches that far (amounts have at most 22 digits): the balance is set in SQL.
    await t.dataSource.query(`UPDATE account_balances SET balance = -999999999999999999999999999999.9 WHERE account_id = $1`, [full.id]);
    const bad = call({ accountId: full.id });
    const good = call();
    const res = await post(root, [bad, good]).expect(200);
    expect(res.body.items[0]).toMatchObject({ status: 'refused', problem: { status: 422, type: expect.stringContaining('amount-out-of-range'), party: { type: 'account', id: full.id } } });
    expect(res.body.items[1]).toMatchObject({ status: 'rated' });
    const [left] = await t.dataSource.query(
      `SELECT (SELECT count(*) FROM calls WHERE call_id = $1)::int AS calls, (SELECT count(*) FROM call_charges c JOIN calls k ON k.id = c.call_uuid WHERE k.call_id = $1)::int AS charges,
              (SELECT count(*) FROM ledger_entries WHERE notes = $1)::int AS entries, (SELECT count(*) FROM ledger_entries WHERE notes = $2)::int AS good`,
      [bad.callId, good.callId],
    );
    expect(left).toEqual({ calls: 0, charges: 0, entries: 0, good: 3 });
  });

  it('replays a call posted again (also inside one batch) with the same result, and refuses other fields under its callId with 409', async () => {
    const c = call();
    const first = await post(root, [c]).expect(200);
    const before = await t.dataSource.query(`SELECT count(*)::int AS n FROM ledger_entries WHERE notes = $1`, [c.callId]);
    const again = await post(root, [{ ...c, connectTime: '2026-01-15T11:00:00+01:00' }, c, { ...c, duration: 62 }]).expect(200);
    expect(again.body.items[0]).toEqual({ callId: c.callId, status: 'replayed', call: first.body.items[0].call });
    expect(again.body.items[1]).toEqual({ callId: c.callId, status: 'replayed', call: first.body.items[0].call });
    expect(again.body.items[2]).toMatchObject({ callId: c.callId, status: 'refused', problem: { status: 409, type: expect.stringContaining('call-conflict') } });
    const after = await t.dataSource.query(`SELECT count(*)::int AS n FROM ledger_entries WHERE notes = $1`, [c.callId]);
    expect(after).toEqual(before);
    // Inside one new batch: the second of equal calls replays the first, a different one conflicts.
    const d = call();
    const batch = await post(root, [d, d, { ...d, number: '+4420'}]).expect(200);
    expect(batch.body.items.map((i: { status: string }) => i.status)).toEqual(['rated', 'replayed', 'refused']);
    expect(batch.body.items[1].call).toEqual(batch.body.items[0].call);
    expect(batch.body.items[2].problem.status).toBe(409);
    const [{ n }] = await t.dataSource.query(`SELECT count(*)::int AS n FROM ledger_entries WHERE notes = $1`, [d.callId]);
    expect(n).toBe(3);
  });

  it('writes one audit event per request and the sellers’ daily rollup in their time zone', async () => {
    await r1.patch(`/v1/customers/${r2.id}`, { timeZone: 'Asia/Tokyo' }).expect(200);
    const c = call({ connectTime: '2026-03-15T23:30:00Z', duration: 120 });
    await post(root, [c]).expect(200);
    const events = await root.get('/v1/audit-events?targetType=call&limit=1').expect(200);
    expect(events.body.items[0]).toMatchObject({ action: 'usage.calls-posted', targetType: 'call', actor: root.id, changes: { after: { rated: 1, replayed: 0, refused: 0, posted: 1 } } });
    // No audit event per usage entry.
    const [{ n }] = await t.dataSource.query(`SELECT count(*)::int AS n FROM audit_events WHERE action = 'balance.usage'`);
    expect(n).toBe(0);
    const rows: Array<{ seller_id: string; time_zone: string; day: string; calls: number; seconds: number }> = await t.dataSource.query(
      `SELECT seller_id, time_zone, day::text, calls::int, seconds::int FROM usage_daily WHERE account_id = $1 AND day >= '2026-03-15'`,
      [account.id],
    );
    // r2 sells to the account in Tokyo (23:30 UTC is the next day there); r1 and root in UTC.
    expect(rows.find((r) => r.seller_id === r2.id)).toMatchObject({ time_zone: 'Asia/Tokyo', day: '2026-03-16', calls: 1, seconds: 120 });
    expect(rows.find((r) => r.seller_id === r1.id)).toMatchObject({ day: '2026-03-15', calls: 1 });
    expect(rows.find((r) => r.seller_id === root.id)).toMatchObject({ day: '2026-03-15', calls: 1 });
  });
});
