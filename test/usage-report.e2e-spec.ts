import { Actor, expectProblem } from './setup/factories';
import { buildCallChain, CallChain } from './setup/call-chain';
import { startTestApp, TestApp } from './setup/test-app';

const MISSING = '00000000-0000-4000-8000-000000000000';

/**
 * GET /v1/usage on the chain of test/setup/call-chain.ts (its table gives every price): sums per
 * grouping hand-computed, days in the viewer's time zone, another customer's side, paging,
 * bad input, and the exact fallback when the rollup was made in another zone.
 */
describe('GET /v1/usage', () => {
  let t: TestApp;
  let root: Actor, r1: Actor, r2: Actor, s: Actor;
  let a: { id: string }, b: { id: string };
  let post: CallChain['post'];

  beforeAll(async () => {
    t = await startTestApp();
    ({ root, r1, r2, s, a, b, post } = await buildCallChain(t));
  });
  afterAll(() => t.close());

  const JAN = 'from=2026-01-01&to=2026-01-31';
  const group = (key: string, calls: number, seconds: number, billedSeconds: number, revenue: string, cost: string, margin: string) => ({
    key,
    calls,
    seconds,
    billedSeconds,
    revenue,
    cost,
    margin,
    currency: 'USD',
  });

  it('groups R1’s business by account, customer, day (New York) and prefix (of R1’s own rate), every call counted', async () => {
    const byAccount = await r1.get(`/v1/usage?${JAN}&groupBy=account`).expect(200);
    expect(byAccount.body).toMatchObject({ from: '2026-01-01', to: '2026-01-31', timeZone: 'America/New_York', groupBy: 'account', customerId: r1.id, currency: 'USD', nextCursor: null });
    // A: c1 + c2 + c4 (zero duration counts): R2's charges 1.80 + 0.15 + 0, R1's 0.90 + 0.05 + 0; B: c3.
    expect(byAccount.body.items).toEqual(
      [group(a.id, 3, 120, 120, '1.95', '0.95', '1.00'), group(b.id, 1, 61, 120, '4.00', '0.61', '3.39')].sort((x, y) => (x.key < y.key ? -1 : 1)),
    );
    const byCustomer = await r1.get(`/v1/usage?${JAN}&groupBy=customer`).expect(200);
    expect(byCustomer.body.items).toEqual(
      [group(r2.id, 3, 120, 120, '1.95', '0.95', '1.00'), group(r1.id, 1, 61, 120, '4.00', '0.61', '3.39')].sort((x, y) => (x.key < y.key ? -1 : 1)),
    );
    // c2 (03:00Z) is still Jan 14 in New York; c4 (23:30Z on the 20th) is 18:30 there.
    const byDay = await r1.get(`/v1/usage?${JAN}&groupBy=day`).expect(200);
    expect(byDay.body.items).toEqual([
      group('2026-01-14', 1, 30, 30, '0.15', '0.05', '0.10'),
      group('2026-01-15', 1, 90, 90, '1.80', '0.90', '0.90'),
      group('2026-01-16', 1, 61, 120, '4.00', '0.61', '3.39'),
      group('2026-01-20', 1, 0, 0, '0.00', '0.00', '0.00'),
    ]);
    const byPrefix = await r1.get(`/v1/usage?${JAN}&groupBy=prefix`).expect(200);
    expect(byPrefix.body.items).toEqual([group('1', 1, 30, 30, '0.15', '0.05', '0.10'), group('44', 3, 151, 210, '5.80', '1.51', '4.29')]);
    // groupBy defaults to day; the range bounds are days included at both ends.
    expect((await r1.get(`/v1/usage?${JAN}`).expect(200)).body.items).toEqual(byDay.body.items);
    expect((await r1.get('/v1/usage?from=2026-01-15&to=2026-01-16&groupBy=day').expect(200)).body.items.map((g: { key: string }) => g.key)).toEqual(['2026-01-15', '2026-01-16']);
  });

  it('reports root’s business per customer whose account made the call, and R2’s own in Tokyo days', async () => {
    const rootByCustomer = await root.get(`/v1/usage?${JAN}&groupBy=customer`).expect(200);
    expect(rootByCustomer.body.items).toEqual(
      [group(r2.id, 3, 120, 120, '0.95', '0.00', '0.95'), group(r1.id, 1, 61, 61, '0.61', '0.00', '0.61'), group(s.id, 1, 60, 60, '0.60', '0.00', '0.60')].sort((x, y) =>
        x.key < y.key ? -1 : 1,
      ),
    );
    const r2ByDay = await r2.get(`/v1/usage?${JAN}&groupBy=day`).expect(200);
    expect(r2ByDay.body.timeZone).toBe('Asia/Tokyo');
    expect(r2ByDay.body.items).toEqual([group('2026-01-15', 2, 120, 150, '6.25', '1.95', '4.30'), group('2026-01-21', 1, 0, 0, '0.00', '0.00', '0.00')]);
    expect(JSON.stringify(r2ByDay.body)).not.toContain(r1.id);
  });

  it('reports a customer below (customerId) from its side, in the caller’s days: the same sums as its own report', async () => {
    // R2's side (the rows it sold: its account's charges), in R1's New York days; R2's rollup is in Tokyo days.
    const asR1 = await r1.get(`/v1/usage?${JAN}&groupBy=day&customerId=${r2.id}`).expect(200);
    expect(asR1.body).toMatchObject({ customerId: r2.id, timeZone: 'America/New_York', currency: 'USD' });
    expect(asR1.body.items).toEqual([
      group('2026-01-14', 1, 30, 30, '0.25', '0.15', '0.10'),
      group('2026-01-15', 1, 90, 120, '6.00', '1.80', '4.20'),
      group('2026-01-20', 1, 0, 0, '0.00', '0.00', '0.00'),
    ]);
    const own = await r2.get(`/v1/usage?${JAN}&groupBy=account`).expect(200);
    expect((await r1.get(`/v1/usage?${JAN}&groupBy=account&customerId=${r2.id}`).expect(200)).body.items).toEqual(own.body.items);
    expect((await root.get(`/v1/usage?${JAN}&groupBy=account&customerId=${r2.id}`).expect(200)).body.items).toEqual(own.body.items);
  });

  it('pages over groups with a cursor bound to the grouping', async () => {
    const first = await r1.get(`/v1/usage?${JAN}&groupBy=day&limit=3`).expect(200);
    expect(first.body.items.map((g: { key: string }) => g.key)).toEqual(['2026-01-14', '2026-01-15', '2026-01-16']);
    const second = await r1.get(`/v1/usage?${JAN}&groupBy=day&limit=3&cursor=${encodeURIComponent(first.body.nextCursor)}`).expect(200);
    expect(second.body.items.map((g: { key: string }) => g.key)).toEqual(['2026-01-20']);
    expect(second.body.nextCursor).toBeNull();
    const byAccount = await r1.get(`/v1/usage?${JAN}&groupBy=account&limit=1`).expect(200);
    const rest = await r1.get(`/v1/usage?${JAN}&groupBy=account&limit=1&cursor=${encodeURIComponent(byAccount.body.nextCursor)}`).expect(200);
    expect([...byAccount.body.items, ...rest.body.items].map((g: { key: string }) => g.key)).toEqual([a.id, b.id].sort());
    // A day cursor is not an account cursor.
    expectProblem(await r1.get(`/v1/usage?${JAN}&groupBy=account&cursor=${encodeURIComponent(first.body.nextCursor)}`), 400);
  });

  it('defaults to the current month so far in the caller’s zone', async () => {
    const res = await r1.get('/v1/usage').expect(200);
    const today = new Intl.DateTimeFormat('en-CA', { timeZone: 'America/New_York', year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date());
    expect(res.body).toMatchObject({ from: `${today.slice(0, 8)}01`, to: today, groupBy: 'day', items: [] });
    const onlyTo = await r1.get('/v1/usage?to=2026-01-20').expect(200);
    expect(onlyTo.body).toMatchObject({ from: '2026-01-01', to: '2026-01-20' });
    expect(onlyTo.body.items.map((g: { key: string }) => g.key)).toEqual(['2026-01-14', '2026-01-15', '2026-01-16', '2026-01-20']);
  });

  it('answers 400 for bad ranges, dates and groupings, and 404 for a customer outside the subtree', async () => {
    for (const [query, parameter] of [
      ['groupBy=week', 'groupBy'],
      ['from=2026-02-30&to=2026-03-01', 'from'],
      ['from=2026-1-1', 'from'],
      ['to=2026-01-01T00:00:00Z', 'to'],
      ['from=2026-01-31&to=2026-01-01', 'from'],
      ['from=2024-12-31&to=2026-01-01', 'to'],
      ['limit=0', 'limit'],
      ['customerId=x', 'customerId'],
    ]) {
      const res = await r1.get(`/v1/usage?${query}`);
      expect(res.status).toBe(400);
      expectProblem(res, 400);
      expect(res.body.errors.map((e: { parameter?: string; pointer?: string }) => e.parameter ?? e.pointer)).toContain(parameter);
    }
    // 366 days, both ends included, is allowed (2024 is a leap year).
    await r1.get('/v1/usage?from=2024-01-01&to=2024-12-31').expect(200);
    for (const [viewer, id] of [
      [r1, s.id],
      [r2, r1.id],
      [r1, MISSING],
    ] as Array<[Actor, string]>) {
      const res = await viewer.get(`/v1/usage?customerId=${id}`);
      expect(res.status).toBe(404);
      expectProblem(res, 404);
    }
  });

  it('after R1 changes its time zone: the same sums per account, days in the new zone (exact, from the sold rows)', async () => {
    const before = await r1.get(`/v1/usage?${JAN}&groupBy=account`).expect(200);
    await r1.patch('/v1/me', { timeZone: 'Asia/Kolkata' }).expect(200);
    const after = await r1.get(`/v1/usage?${JAN}&groupBy=account`).expect(200);
    expect(after.body.timeZone).toBe('Asia/Kolkata');
    expect(after.body.items).toEqual(before.body.items);
    // The rollup holds R1's rows in New York days only: these answers cannot come from it.
    const zones = await t.dataSource.query(`SELECT DISTINCT time_zone FROM usage_daily WHERE seller_id = $1`, [r1.id]);
    expect(zones).toEqual([{ time_zone: 'America/New_York' }]);
    // In Kolkata (UTC+5:30): c2 08:30 and c1 15:30 on the 15th, c3 on the 16th, c4 05:00 on the 21st.
    expect((await r1.get(`/v1/usage?${JAN}&groupBy=day`).expect(200)).body.items).toEqual([
      group('2026-01-15', 2, 120, 120, '1.95', '0.95', '1.00'),
      group('2026-01-16', 1, 61, 120, '4.00', '0.61', '3.39'),
      group('2026-01-21', 1, 0, 0, '0.00', '0.00', '0.00'),
    ]);
    // A call rated now is rolled up in the new zone; the report (both zones in range) still sums every call once.
    await post([{ callId: 'c6', accountId: b.id, number: '+4412', connectTime: '2026-01-25T12:00:00Z', duration: 60 }]);
    const zonesNow = await t.dataSource.query(`SELECT DISTINCT time_zone FROM usage_daily WHERE seller_id = $1 ORDER BY 1`, [r1.id]);
    expect(zonesNow).toEqual([{ time_zone: 'America/New_York' }, { time_zone: 'Asia/Kolkata' }]);
    const withC6 = await r1.get(`/v1/usage?${JAN}&groupBy=account`).expect(200);
    expect(withC6.body.items).toEqual(
      [group(a.id, 3, 120, 120, '1.95', '0.95', '1.00'), group(b.id, 2, 121, 180, '6.00', '1.21', '4.79')].sort((x, y) => (x.key < y.key ? -1 : 1)),
    );
    // A range with calls rated only in the new zone is answered from the rollup, the same figures.
    const late = await r1.get('/v1/usage?from=2026-01-25&to=2026-01-31&groupBy=day').expect(200);
    expect(late.body.items).toEqual([group('2026-01-25', 1, 60, 60, '2.00', '0.60', '1.40')]);
  });
});
