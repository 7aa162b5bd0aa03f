import { Actor, expectProblem } from './setup/factories';
import { buildCallChain } from './setup/call-chain';
import { startTestApp, TestApp } from './setup/test-app';

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

/** The views of rated calls on the chain of test/setup/call-chain.ts (its table gives every price). */
describe('GET /v1/calls, GET /v1/calls/{id}', () => {
  let t: TestApp;
  let root: Actor, r1: Actor, r2: Actor, s: Actor;
  let t1: string, t2: string, ta: string;
  let a: { id: string }, b: { id: string }, c: { id: string };
  let ids: Record<string, string>;

  beforeAll(async () => {
    t = await startTestApp();
    ({ root, r1, r2, s, t1, t2, ta, a, b, c, ids } = await buildCallChain(t));
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

});
