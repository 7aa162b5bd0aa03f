import Big from 'big.js';
import fc from 'fast-check';
import { Actor, createAccount, createCustomer, createTariff, expectProblem, loginRoot, uniqueName } from './setup/factories';
import { startTestApp, TestApp } from './setup/test-app';

/**
 * SPEC §13's views as properties, over random trees below the root (depth 1–4), random
 * tariffs at every level (prices, connect fees, free seconds, intervals) and random calls,
 * all in USD, everything through HTTP:
 * - a viewer's view of a call holds exactly the charges from the account up to the viewer
 *   (nothing above it: no party, no id, no tariff it cannot GET — its own charge's tariff is
 *   its own record's `tariffId`);
 * - a call outside the viewer's subtree is the one 404;
 * - revenue − cost = margin for every viewer, revenue is the charge of the party directly
 *   below it, cost its own charge, and the margins of the whole chain (root included, whose
 *   cost is 0) add up to the account's charge;
 * - `GET /v1/usage` (every grouping, every page) sums to what `GET /v1/calls` lists for the
 *   same viewer; per account and per day (in the viewer's time zone) too.
 *
 * Reproduce a failure with FC_SEED=<seed> (and FC_PATH=<path>) from the report.
 */
const NUM_RUNS = Number(process.env.FC_NUM_RUNS ?? 10);
const PAST = '2025-01-01T00:00:00Z';
const PREFIXES = ['1', '44', '4420'];
const NUMBERS = ['+4420123', '4499', '+15551234', '442'];
const ZONES = ['UTC', 'America/New_York', 'Asia/Tokyo', 'Asia/Kolkata', 'Pacific/Kiritimati'];

interface Terms {
  connectFee: string;
  freeSeconds: number;
  rates: Array<{ price: string; connectFee: string; firstInterval: number; nextInterval: number }>;
}
interface Scenario {
  /** parents[0] is null (a child of the root); parents[i] < i otherwise. */
  parents: Array<number | null>;
  zones: string[];
  /** Tariff terms per node: what its parent sells it; and what it sells its account. */
  customerTerms: Terms[];
  accountTerms: Terms[];
  calls: Array<{ node: number; number: string; minute: number; duration: number }>;
}

const money = (max: number) => fc.integer({ min: 0, max }).map((n) => new Big(n).div(10000).toFixed(4));
const terms: fc.Arbitrary<Terms> = fc.record({
  connectFee: money(500),
  freeSeconds: fc.integer({ min: 0, max: 10 }),
  rates: fc.array(
    fc.record({ price: money(50000), connectFee: money(300), firstInterval: fc.integer({ min: 1, max: 60 }), nextInterval: fc.integer({ min: 1, max: 60 }) }),
    { minLength: PREFIXES.length, maxLength: PREFIXES.length },
  ),
});

const depthOf = (parents: Array<number | null>, node: number): number => {
  let depth = 1;
  for (let p = parents[node]; p !== null; p = parents[p]) depth++;
  return depth;
};

/** Trees of 1–5 customers whose depth below the root stays within 1–4. */
const scenario: fc.Arbitrary<Scenario> = fc
  .array(fc.nat(), { minLength: 0, maxLength: 4 })
  .map((raw) => {
    const parents: Array<number | null> = [null];
    raw.forEach((r, i) => {
      const candidates = Array.from({ length: i + 1 }, (_, j) => j).filter((j) => depthOf(parents, j) < 4);
      parents.push(candidates[r % candidates.length]);
    });
    return parents;
  })
  .chain((parents) =>
    fc.record({
      parents: fc.constant(parents),
      zones: fc.array(fc.constantFrom(...ZONES), { minLength: parents.length, maxLength: parents.length }),
      customerTerms: fc.array(terms, { minLength: parents.length, maxLength: parents.length }),
      accountTerms: fc.array(terms, { minLength: parents.length, maxLength: parents.length }),
      calls: fc.array(
        fc.record({
          node: fc.nat({ max: parents.length - 1 }),
          number: fc.constantFrom(...NUMBERS),
          minute: fc.integer({ min: 0, max: 60 * 24 * 5 }),
          duration: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 400 })),
        }),
        { minLength: 1, maxLength: 6 },
      ),
    }),
  );

interface Charge {
  party: { type: string; id: string };
  tariffId: string;
  billedSeconds: number;
  convertedAmount: string;
}
interface View {
  id: string;
  accountId: string;
  connectTime: string;
  duration: number;
  charges: Charge[];
  viewer: { revenue: string; cost: string; margin: string; currency: string };
}

describe('call views and usage (property)', () => {
  let t: TestApp;
  let root: Actor;
  let run = 0;

  beforeAll(async () => {
    t = await startTestApp();
    root = await loginRoot(t);
  });
  afterAll(() => t.close());

  async function tariff(owner: Actor, spec: Terms): Promise<string> {
    const id = await createTariff(owner, { currency: 'USD', connectFee: spec.connectFee, freeSeconds: spec.freeSeconds });
    for (const [i, prefix] of PREFIXES.entries()) {
      await owner.post(`/v1/tariffs/${id}/rates`, { prefix, ...spec.rates[i], effectiveFrom: PAST }).expect(201);
    }
    return id;
  }

  async function allPages<T>(viewer: Actor, url: string): Promise<T[]> {
    const items: T[] = [];
    let cursor: string | null = null;
    for (let pages = 0; pages < 100; pages++) {
      const res: { status: number; body: { items: T[]; nextCursor: string | null } } = await viewer.get(
        `${url}${url.includes('?') ? '&' : '?'}limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
      );
      expect(res.status).toBe(200);
      items.push(...res.body.items);
      cursor = res.body.nextCursor;
      if (!cursor) return items;
    }
    throw new Error('pagination does not end');
  }

  async function check(s: Scenario) {
    run++;
    // Each run in its own month, so that the root's report (which spans every run) holds only this run's calls.
    const year = 2026 + Math.floor((run - 1) / 12);
    const month = (run - 1) % 12;
    const pad = (n: number) => String(n).padStart(2, '0');
    const range = `from=${year}-${pad(month + 1)}-01&to=${year}-${pad(month + 1)}-28`;
    // Build: node i's parent sells it a tariff; node i sells its one account another.
    const actors: Actor[] = [];
    const customerTariffs: string[] = [];
    for (let i = 0; i < s.parents.length; i++) {
      const parent = s.parents[i] === null ? root : actors[s.parents[i]!];
      customerTariffs.push(await tariff(parent, s.customerTerms[i]));
      actors.push(await createCustomer(t, parent, { tariffId: customerTariffs[i], timeZone: s.zones[i], name: uniqueName(`run${run}-node${i}`) }));
    }
    const accounts: string[] = [];
    for (let i = 0; i < s.parents.length; i++) {
      accounts.push((await createAccount(actors[i], actors[i], { tariffId: await tariff(actors[i], s.accountTerms[i]) })).id);
    }
    const posted = await root
      .post('/v1/calls', {
        calls: s.calls.map((c, i) => ({
          callId: `run${run}-call${i}`,
          accountId: accounts[c.node],
          number: c.number,
          connectTime: new Date(Date.UTC(year, month, 10) + c.minute * 60_000).toISOString(),
          duration: c.duration,
        })),
      })
      .expect(200);
    for (const item of posted.body.items) expect(item.status).toBe('rated');
    const callIds: string[] = posted.body.items.map((item: { call: { id: string } }) => item.call.id);

    /** The chain of node i from itself up to node 0 (the root's child). */
    const chain = (node: number): number[] => {
      const nodes: number[] = [];
      for (let p: number | null = node; p !== null; p = s.parents[p]) nodes.push(p);
      return nodes;
    };
    const viewers: Array<{ actor: Actor; node: number | null }> = [{ actor: root, node: null }, ...actors.map((actor, node) => ({ actor, node }))];

    for (const [k, call] of s.calls.entries()) {
      const up = chain(call.node); // the account's customer … node 0
      let marginSum = new Big(0);
      let accountCharge: Big | undefined;
      for (const { actor, node } of viewers) {
        const res = await actor.get(`/v1/calls/${callIds[k]}`);
        const onChain = node === null || up.includes(node);
        if (!onChain) {
          expect(res.status).toBe(404);
          expectProblem(res, 404);
          continue;
        }
        expect(res.status).toBe(200);
        const view: View = res.body;
        // Exactly the charges from the account up to the viewer itself (the root has none of its own).
        const visible = node === null ? up : up.slice(0, up.indexOf(node) + 1);
        expect(view.charges.map((c) => c.party.id)).toEqual([accounts[call.node], ...visible.map((n) => actors[n].id)]);
        // Nothing of a level above: no id of a customer above the viewer, no tariff it sells to none of them.
        const above = node === null ? [] : up.slice(up.indexOf(node) + 1);
        const text = JSON.stringify(view);
        for (const n of above) {
          expect(text).not.toContain(actors[n].id);
          expect(text).not.toContain(customerTariffs[n]);
        }
        // Every tariff shown can be read by the viewer, except its own charge's: its own record's tariffId.
        for (const charge of view.charges) {
          if (node !== null && charge.party.id === actors[node].id) {
            expect(charge.tariffId).toBe((await actor.get(`/v1/customers/${actors[node].id}`).expect(200)).body.tariffId);
          } else {
            await actor.get(`/v1/tariffs/${charge.tariffId}`).expect(200);
          }
        }
        // revenue − cost = margin; revenue = the charge directly below, cost = its own (0 for the root).
        const { revenue, cost, margin } = view.viewer;
        expect(new Big(revenue).minus(cost).eq(margin)).toBe(true);
        const own = node === null ? undefined : view.charges[view.charges.length - 1];
        const sold = view.charges[view.charges.length - (node === null ? 1 : 2)];
        expect(new Big(revenue).eq(sold.convertedAmount)).toBe(true);
        expect(new Big(cost).eq(own ? own.convertedAmount : 0)).toBe(true);
        expect(view.viewer.currency).toBe('USD');
        marginSum = marginSum.plus(margin);
        accountCharge = new Big(view.charges[0].convertedAmount);
      }
      // The chain's margins (root included, at cost 0) telescope to the account's charge.
      expect(marginSum.eq(accountCharge!)).toBe(true);
    }

    // Usage = the sums over the listed calls, for every viewer and every grouping.
    for (const { actor, node } of viewers) {
      const calls = (await allPages<View>(actor, '/v1/calls')).filter((v) => callIds.includes(v.id));
      const expectedCount = node === null ? s.calls.length : s.calls.filter((c) => chain(c.node).includes(node)).length;
      expect(calls).toHaveLength(expectedCount);
      const zone = node === null ? 'UTC' : s.zones[node];
      const dayOf = (iso: string) =>
        new Intl.DateTimeFormat('en-CA', { timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date(iso));
      type Sums = { calls: number; seconds: number; billedSeconds: number; revenue: Big; cost: Big };
      const add = (map: Map<string, Sums>, key: string, v: View) => {
        const sold = v.charges[v.charges.length - (node === null ? 1 : 2)];
        const sums = map.get(key) ?? { calls: 0, seconds: 0, billedSeconds: 0, revenue: new Big(0), cost: new Big(0) };
        map.set(key, {
          calls: sums.calls + 1,
          seconds: sums.seconds + v.duration,
          billedSeconds: sums.billedSeconds + sold.billedSeconds,
          revenue: sums.revenue.plus(v.viewer.revenue),
          cost: sums.cost.plus(v.viewer.cost),
        });
      };
      const expected = { account: new Map<string, Sums>(), day: new Map<string, Sums>(), total: new Map<string, Sums>() };
      for (const v of calls) {
        add(expected.account, v.accountId, v);
        add(expected.day, dayOf(v.connectTime), v);
        add(expected.total, 'all', v);
      }
      for (const groupBy of ['account', 'customer', 'day', 'prefix'] as const) {
        const groups = await allPages<{ key: string; calls: number; seconds: number; billedSeconds: number; revenue: string; cost: string; margin: string }>(
          actor,
          `/v1/usage?${range}&groupBy=${groupBy}`,
        );
        const keys = groups.map((g) => g.key);
        expect(keys).toEqual([...keys].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0)));
        for (const g of groups) expect(new Big(g.revenue).minus(g.cost).eq(g.margin)).toBe(true);
        const toSums = (list: typeof groups): Sums =>
          list.reduce(
            (acc, g) => ({
              calls: acc.calls + g.calls,
              seconds: acc.seconds + g.seconds,
              billedSeconds: acc.billedSeconds + g.billedSeconds,
              revenue: acc.revenue.plus(g.revenue),
              cost: acc.cost.plus(g.cost),
            }),
            { calls: 0, seconds: 0, billedSeconds: 0, revenue: new Big(0), cost: new Big(0) },
          );
        const plain = (x: Sums) => ({ ...x, revenue: x.revenue.toFixed(8), cost: x.cost.toFixed(8) });
        expect(plain(toSums(groups))).toEqual(plain(expected.total.get('all') ?? toSums([])));
        if (groupBy === 'account' || groupBy === 'day') {
          const want = expected[groupBy];
          expect(keys).toEqual([...want.keys()].sort());
          for (const g of groups) expect(plain(toSums([g]))).toEqual(plain(want.get(g.key)!));
        }
      }
    }
  }

  it('no viewer sees above itself; margins telescope to the account’s charge; usage equals the listed calls', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        await check(s);
      }),
      { numRuns: NUM_RUNS, endOnFailure: true },
    );
  });
});
