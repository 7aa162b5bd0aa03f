import { Actor, createAccount, createCustomer, createTariff, expectProblem, loginRoot } from './setup/factories';
import { startTestApp, TestApp } from './setup/test-app';

const PAST = '2025-01-01T00:00:00Z';
const MISSING = '00000000-0000-4000-8000-000000000000';

interface Charge {
  party: { type: string; id: string };
  tariffId: string;
  prefix: string;
  price: string;
  billedSeconds: number;
  amount: string;
  [field: string]: unknown;
}
interface CallView {
  id: string;
  callId: string;
  accountId: string;
  customerId: string;
  connectTime: string;
  charges: Charge[];
  viewer: { revenue: string; cost: string; margin: string; currency: string };
}

/** A rate on a tariff, in effect long before the calls. */
async function rate(owner: Actor, tariffId: string, prefix: string, price: string, firstInterval: number, nextInterval = firstInterval) {
  await owner.post(`/v1/tariffs/${tariffId}/rates`, { prefix, price, firstInterval, nextInterval, effectiveFrom: PAST }).expect(201);
}

/**
 * The views of rated calls: root → R1 (New York) → R2 (Tokyo) → account A, R1's own account B,
 * and a sibling reseller S (root → S → account C). All in USD; every price hand-computed.
 *
 *   tariff  seller → buyer   '44' (per min, intervals)   '1'
 *   t1      root → R1, S     0.60 (1/1)                  0.10 (1/1)
 *   t2      R1 → R2          1.20 (1/1)                  0.30 (1/1)
 *   ta      R2 → A           3.00 on '4420' (60/60)      0.50 (1/1)
 *   tb      R1 → B           2.00 (60/60)
 *   tc      S → C            1.00 (1/1)
 *
 *   call  account number          connectTime (UTC)  dur  account  R2    R1 (or B's seller R1)
 *   c1    A       +442071234567   2026-01-15 10:00   90   6.00     1.80  0.90
 *   c2    A       12125550100     2026-01-15 03:00   30   0.25     0.15  0.05
 *   c3    B       +441234         2026-01-16 12:00   61   4.00     —     0.61
 *   c4    A       +4420           2026-01-20 23:30    0   0        0     0
 *   c5    C       +4499           2026-01-15 11:00   60   1.00 (C), 0.60 (S)
 */
describe('GET /v1/calls, GET /v1/calls/{id}, GET /v1/usage', () => {
  let t: TestApp;
  let root: Actor, r1: Actor, r2: Actor, s: Actor;
  let t1: string, t2: string, ta: string, tb: string;
  let a: { id: string }, b: { id: string }, c: { id: string };
  const ids: Record<string, string> = {};

  async function post(calls: Array<{ callId: string; accountId: string; number: string; connectTime: string; duration: number }>) {
    const res = await root.post('/v1/calls', { calls }).expect(200);
    for (const item of res.body.items) {
      if (item.status !== 'rated') throw new Error(`not rated: ${JSON.stringify(item)}`);
      ids[item.callId] = item.call.id;
    }
  }

  beforeAll(async () => {
    t = await startTestApp();
    root = await loginRoot(t);
    t1 = await createTariff(root);
    await rate(root, t1, '44', '0.60', 1);
    await rate(root, t1, '1', '0.10', 1);
    r1 = await createCustomer(t, root, { tariffId: t1, timeZone: 'America/New_York' });
    s = await createCustomer(t, root, { tariffId: t1 });
    t2 = await createTariff(r1);
    await rate(r1, t2, '44', '1.20', 1);
    await rate(r1, t2, '1', '0.30', 1);
    r2 = await createCustomer(t, r1, { tariffId: t2, timeZone: 'Asia/Tokyo' });
    ta = await createTariff(r2);
    await rate(r2, ta, '4420', '3.00', 60);
    await rate(r2, ta, '1', '0.50', 1);
    a = await createAccount(r2, r2, { tariffId: ta });
    tb = await createTariff(r1);
    await rate(r1, tb, '44', '2.00', 60);
    b = await createAccount(r1, r1, { tariffId: tb });
    const tc = await createTariff(s);
    await rate(s, tc, '44', '1.00', 1);
    c = await createAccount(s, s, { tariffId: tc });
    await post([
      { callId: 'c1', accountId: a.id, number: '+442071234567', connectTime: '2026-01-15T10:00:00Z', duration: 90 },
      { callId: 'c2', accountId: a.id, number: '12125550100', connectTime: '2026-01-15T03:00:00Z', duration: 30 },
      { callId: 'c3', accountId: b.id, number: '+441234', connectTime: '2026-01-16T12:00:00Z', duration: 61 },
      { callId: 'c4', accountId: a.id, number: '+4420', connectTime: '2026-01-20T23:30:00Z', duration: 0 },
      { callId: 'c5', accountId: c.id, number: '+4499', connectTime: '2026-01-15T11:00:00Z', duration: 60 },
    ]);
  });
  afterAll(() => t.close());

  describe('GET /v1/calls/{id}', () => {
    it('shows root every level of a call and its own business: revenue from R1, no cost', async () => {
      const view: CallView = (await root.get(`/v1/calls/${ids.c1}`).expect(200)).body;
      expect(view).toMatchObject({ id: ids.c1, callId: 'c1', accountId: a.id, customerId: r2.id, number: '+442071234567', connectTime: '2026-01-15T10:00:00.000Z', duration: 90 });
      expect(view.charges.map((ch) => [ch.party.type, ch.party.id, ch.tariffId, ch.prefix, ch.price, ch.billedSeconds, ch.amount])).toEqual([
        ['account', a.id, ta, '4420', '3.00', 120, '6.00'],
        ['customer', r2.id, t2, '44', '1.20', 90, '1.80'],
        ['customer', r1.id, t1, '44', '0.60', 90, '0.90'],
      ]);
      expect(view.viewer).toEqual({ revenue: '0.90', cost: '0.00', margin: '0.90', currency: 'USD' });
    });

    it('shows R1 its subtree’s charges and its own (its own tariff and price included), revenue from R2, cost to root', async () => {
      const view: CallView = (await r1.get(`/v1/calls/${ids.c1}`).expect(200)).body;
      expect(view.charges.map((ch) => ch.party.id)).toEqual([a.id, r2.id, r1.id]);
      expect(view.charges[2]).toMatchObject({ tariffId: t1, price: '0.60', amount: '0.90' });
      expect(view.viewer).toEqual({ revenue: '1.80', cost: '0.90', margin: '0.90', currency: 'USD' });
    });

    it('shows R2 only its account’s charge and its own: nothing of R1 (id, tariff, price)', async () => {
      const res = await r2.get(`/v1/calls/${ids.c1}`).expect(200);
      const view: CallView = res.body;
      expect(view.charges.map((ch) => [ch.party.id, ch.tariffId, ch.amount])).toEqual([
        [a.id, ta, '6.00'],
        [r2.id, t2, '1.80'],
      ]);
      expect(view.viewer).toEqual({ revenue: '6.00', cost: '1.80', margin: '4.20', currency: 'USD' });
      const text = JSON.stringify(res.body);
      expect(text).not.toContain(r1.id);
      expect(text).not.toContain(t1);
      expect(text).not.toContain('0.60');
      expect(text).not.toContain('"0.90"');
    });

    it('along the chain the margins add up to the account’s charge (root’s cost is 0)', async () => {
      const margins = await Promise.all([root, r1, r2].map(async (v) => Number((await v.get(`/v1/calls/${ids.c1}`).expect(200)).body.viewer.margin)));
      expect(margins).toEqual([0.9, 0.9, 4.2]);
      expect(margins.reduce((x, y) => x + y, 0)).toBeCloseTo(6.0, 8);
    });

    it('answers the one 404 for a call outside the subtree (a sibling’s), a missing id, and a 400 for a malformed one', async () => {
      for (const [viewer, id] of [
        [s, ids.c1],
        [r2, ids.c3],
        [r1, ids.c5],
        [r2, ids.c5],
        [root, MISSING],
      ] as Array<[Actor, string]>) {
        const res = await viewer.get(`/v1/calls/${id}`);
        expect(res.status).toBe(404);
        expectProblem(res, 404);
        expect(res.body.detail).toBe('The call does not exist.');
      }
      // The sibling sees its own call, with root's price above it hidden.
      const own = await s.get(`/v1/calls/${ids.c5}`).expect(200);
      expect(own.body.viewer).toEqual({ revenue: '1.00', cost: '0.60', margin: '0.40', currency: 'USD' });
      expect(own.body.charges.map((ch: Charge) => ch.party.id)).toEqual([c.id, s.id]);
      const bad = await root.get('/v1/calls/not-a-uuid');
      expect(bad.status).toBe(400);
      expectProblem(bad, 400);
      expect(bad.body.errors).toEqual([{ parameter: 'id', detail: 'id must be a UUID' }]);
    });
  });

  describe('GET /v1/calls', () => {
    const callIds = (res: { body: { items: CallView[] } }) => res.body.items.map((v) => v.callId);

    it('lists every call of the caller’s subtree, newest first, each as the caller sees it', async () => {
      expect(callIds(await root.get('/v1/calls').expect(200))).toEqual(['c4', 'c3', 'c5', 'c1', 'c2']);
      const r1List = await r1.get('/v1/calls').expect(200);
      expect(callIds(r1List)).toEqual(['c4', 'c3', 'c1', 'c2']);
      expect(r1List.body.nextCursor).toBeNull();
      // The same view as GET by id.
      const byId = (await r1.get(`/v1/calls/${ids.c1}`).expect(200)).body;
      expect(r1List.body.items[2]).toEqual(byId);
      expect(r1List.body.items[1].viewer).toEqual({ revenue: '4.00', cost: '0.61', margin: '3.39', currency: 'USD' });
      const r2List = await r2.get('/v1/calls').expect(200);
      expect(callIds(r2List)).toEqual(['c4', 'c1', 'c2']);
      expect(JSON.stringify(r2List.body)).not.toContain(r1.id);
      expect(callIds(await s.get('/v1/calls').expect(200))).toEqual(['c5']);
    });

    it('filters by account, by customer (own accounts or subtree), by time and by number prefix', async () => {
      expect(callIds(await r1.get(`/v1/calls?accountId=${a.id}`).expect(200))).toEqual(['c4', 'c1', 'c2']);
      expect(callIds(await r1.get(`/v1/calls?accountId=${b.id}`).expect(200))).toEqual(['c3']);
      // R1's own accounts only, by default or by naming itself; its subtree with scope=subtree.
      expect(callIds(await r1.get('/v1/calls?scope=own').expect(200))).toEqual(['c3']);
      expect(callIds(await r1.get(`/v1/calls?customerId=${r1.id}`).expect(200))).toEqual(['c3']);
      expect(callIds(await r1.get(`/v1/calls?customerId=${r1.id}&scope=subtree`).expect(200))).toEqual(['c4', 'c3', 'c1', 'c2']);
      expect(callIds(await r1.get(`/v1/calls?customerId=${r2.id}`).expect(200))).toEqual(['c4', 'c1', 'c2']);
      expect(callIds(await root.get(`/v1/calls?customerId=${r1.id}`).expect(200))).toEqual(['c3']);
      expect(callIds(await root.get(`/v1/calls?customerId=${r1.id}&scope=subtree`).expect(200))).toEqual(['c4', 'c3', 'c1', 'c2']);
      // Both filters: the account must be the customer's (own) or under it (subtree).
      expect(callIds(await root.get(`/v1/calls?customerId=${r1.id}&accountId=${a.id}`).expect(200))).toEqual([]);
      expect(callIds(await root.get(`/v1/calls?customerId=${r1.id}&scope=subtree&accountId=${a.id}`).expect(200))).toEqual(['c4', 'c1', 'c2']);
      // from inclusive, to exclusive, any zone.
      expect(callIds(await root.get('/v1/calls?from=2026-01-15T10:00:00Z&to=2026-01-16T12:00:00Z').expect(200))).toEqual(['c5', 'c1']);
      expect(callIds(await root.get(`/v1/calls?from=${encodeURIComponent('2026-01-15T05:00:00-05:00')}`).expect(200))).toEqual(['c4', 'c3', 'c5', 'c1']);
      // Digits prefix, with or without '+', on numbers posted either way.
      expect(callIds(await root.get('/v1/calls?number=4420').expect(200))).toEqual(['c4', 'c1']);
      expect(callIds(await root.get(`/v1/calls?number=${encodeURIComponent('+1')}`).expect(200))).toEqual(['c2']);
      expect(callIds(await root.get('/v1/calls?number=44&accountId=' + a.id).expect(200))).toEqual(['c4', 'c1']);
    });

    it('pages with a stable cursor: pages of 2 concatenate to the whole list, and a forged cursor is a 400', async () => {
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const res: { body: { items: CallView[]; nextCursor: string | null } } = await root
          .get(`/v1/calls?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`)
          .expect(200);
        expect(res.body.items.length).toBeLessThanOrEqual(2);
        seen.push(...res.body.items.map((v) => v.callId));
        cursor = res.body.nextCursor;
      } while (cursor);
      expect(seen).toEqual(['c4', 'c3', 'c5', 'c1', 'c2']);
      const first = await root.get('/v1/calls?limit=2').expect(200);
      const again = await root.get(`/v1/calls?limit=2&cursor=${encodeURIComponent(first.body.nextCursor)}`).expect(200);
      expect(callIds(again)).toEqual(['c5', 'c1']);
      // Another caller's cursor of the same list only positions: it reveals nothing and shows only the caller's calls.
      expect(callIds(await r2.get(`/v1/calls?cursor=${encodeURIComponent(first.body.nextCursor)}`).expect(200))).toEqual(['c1', 'c2']);
      const forged = await root.get(`/v1/calls?cursor=${first.body.nextCursor.slice(0, -2)}AA`);
      expectProblem(forged, 400);
      expect(forged.body.errors).toEqual([{ parameter: 'cursor', detail: 'cursor is not a cursor this list issued' }]);
      const accounts = await root.get('/v1/accounts?limit=1&scope=subtree').expect(200);
      if (accounts.body.nextCursor) expectProblem(await root.get(`/v1/calls?cursor=${encodeURIComponent(accounts.body.nextCursor)}`), 400);
    });

    it('answers 404 for an account or customer outside the subtree and 400 for bad parameters', async () => {
      for (const url of [`/v1/calls?accountId=${c.id}`, `/v1/calls?customerId=${s.id}`, `/v1/calls?customerId=${MISSING}`, `/v1/calls?accountId=${a.id}&customerId=${s.id}&scope=subtree`]) {
        const res = await r1.get(url);
        expect(res.status).toBe(404);
        expectProblem(res, 404);
      }
      for (const [url, parameter] of [
        ['/v1/calls?limit=0', 'limit'],
        ['/v1/calls?limit=201', 'limit'],
        ['/v1/calls?from=2026-01-15', 'from'],
        ['/v1/calls?to=2026-01-15T10:00:00', 'to'],
        ['/v1/calls?number=44a', 'number'],
        ['/v1/calls?scope=everything', 'scope'],
        ['/v1/calls?accountId=nope', 'accountId'],
        ['/v1/calls?from=2026-01-16T00:00:00Z&to=2026-01-15T00:00:00Z', 'from'],
      ]) {
        const res = await root.get(url);
        expect(res.status).toBe(400);
        expectProblem(res, 400);
        expect(res.body.errors.map((e: { parameter?: string; pointer?: string }) => e.parameter ?? e.pointer)).toContain(parameter);
      }
    });
  });

  describe('GET /v1/usage', () => {
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
});
