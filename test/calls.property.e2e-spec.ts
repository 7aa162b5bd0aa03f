import fc from 'fast-check';
import { Actor, createAccount, createCustomer, createTariff, loginRoot, uniqueName } from './setup/factories';
import { holdersOffTheirLedgers } from './setup/ledger-checks';
import { startSecondInstance, startTestApp, TestApp } from './setup/test-app';

/**
 * Properties of POST /v1/calls on random trees, tariffs and calls (SPEC §13): every charged
 * party's ledger holds exactly one usage entry per rated call (notes = callId) and balances
 * equal the sums of their ledgers; replaying a batch shuffled and concurrently changes
 * nothing; two instances posting the same calls charge them once.
 */

const PAST = '2020-01-01T00:00:00Z';
const PREFIXES = ['1', '4', '44', '441', '49'];
const NUMBERS = ['+15551234', '4412345', '+4419876', '4471234', '+4930123', '33123'];

interface RateSpec {
  prefix: string;
  price: string;
  firstInterval: number;
  nextInterval: number;
  connectFee: string;
}
interface TreeSpec {
  /** parents[i]: -1 the root, else an earlier customer. */
  parents: number[];
  currencies: Array<'USD' | 'EUR'>;
  tariffs: Array<{ connectFee: string; freeSeconds: number; rates: RateSpec[] }>;
  /** Each account: its customer's index and its tariff's terms. */
  accounts: Array<{ customer: number; connectFee: string; freeSeconds: number; rates: RateSpec[] }>;
}
interface CallSpec {
  account: number;
  number: string;
  duration: number;
  minutesAgo: number;
}

const money = fc.integer({ min: 0, max: 300000 }).map((n) => (n / 100000).toFixed(5));
const rateSpec: fc.Arbitrary<RateSpec> = fc.record({
  prefix: fc.constantFrom(...PREFIXES),
  price: money,
  firstInterval: fc.constantFrom(1, 6, 30, 60),
  nextInterval: fc.constantFrom(1, 6, 30, 60),
  connectFee: fc.constantFrom('0', '0.001', '0.05'),
});
const terms = fc.record({
  connectFee: fc.constantFrom('0', '0.01'),
  freeSeconds: fc.constantFrom(0, 0, 5),
  // '1' and '4' nearly always present: most calls rate, some are refused (no rate for 33, or a missing prefix).
  rates: fc.uniqueArray(rateSpec, { selector: (r) => r.prefix, minLength: 1, maxLength: 5 }),
});
const treeSpec: fc.Arbitrary<TreeSpec> = fc
  .integer({ min: 1, max: 4 })
  .chain((n) =>
    fc.record({
      parents: fc.tuple(...Array.from({ length: n }, (_, i) => fc.integer({ min: -1, max: i - 1 }))),
      currencies: fc.tuple(...Array.from({ length: n }, () => fc.constantFrom<'USD' | 'EUR'>('USD', 'EUR'))),
      tariffs: fc.tuple(...Array.from({ length: n }, () => terms)),
      accounts: fc.array(fc.record({ customer: fc.integer({ min: 0, max: n - 1 }), connectFee: terms.map((t) => t.connectFee), freeSeconds: fc.constantFrom(0, 3), rates: terms.map((t) => t.rates) }), {
        minLength: 1,
        maxLength: 3,
      }),
    }),
  );
const callsSpec = fc.array(
  fc.record({ account: fc.nat(), number: fc.constantFrom(...NUMBERS), duration: fc.integer({ min: 0, max: 400 }), minutesAgo: fc.integer({ min: 0, max: 100000 }) }),
  { minLength: 1, maxLength: 25 },
);

describe('POST /v1/calls properties', () => {
  let t: TestApp;
  let root: Actor;
  let run = 0;

  beforeAll(async () => {
    t = await startTestApp();
    root = await loginRoot(t);
    // Every seller's table knows EUR (1 EUR = 1.1 USD): tariffs in either currency convert.
    await root.put('/v1/exchange-rates/EUR', { rate: '1.1' }).expect(200);
  });
  afterAll(() => t.close());

  /** The tree through the API: customers (tariffs of their parents), their tables, accounts. */
  async function buildTree(spec: TreeSpec): Promise<string[]> {
    const customers: Actor[] = [];
    const addRates = async (owner: Actor, tariffId: string, rates: RateSpec[]) => {
      for (const r of rates) await owner.post(`/v1/tariffs/${tariffId}/rates`, { ...r, effectiveFrom: PAST }).expect(201);
    };
    for (let i = 0; i < spec.parents.length; i++) {
      const parent = spec.parents[i] < 0 ? root : customers[spec.parents[i]];
      const terms = spec.tariffs[i];
      const tariffId = await createTariff(parent, { currency: spec.currencies[i], connectFee: terms.connectFee, freeSeconds: terms.freeSeconds });
      await addRates(parent, tariffId, terms.rates);
      const base = spec.currencies[(i + 1) % spec.currencies.length];
      const customer = await createCustomer(t, parent, { tariffId, baseCurrency: base });
      // Its table knows the other currency.
      if (base === 'USD') await customer.put('/v1/exchange-rates/EUR', { rate: '1.1' }).expect(200);
      else await customer.put('/v1/exchange-rates/USD', { rate: '0.9' }).expect(200);
      customers.push(customer);
    }
    const accounts: string[] = [];
    for (const a of spec.accounts) {
      const owner = customers[a.customer];
      const tariffId = await createTariff(owner, { currency: 'USD', connectFee: a.connectFee, freeSeconds: a.freeSeconds });
      await addRates(owner, tariffId, a.rates);
      accounts.push((await createAccount(owner, owner, { tariffId })).id);
    }
    return accounts;
  }

  function callsOf(accounts: string[], specs: CallSpec[]) {
    const tag = `${++run}-${uniqueName('run')}`;
    return specs.map((c, i) => ({
      callId: `${tag}-${i}`,
      accountId: accounts[c.account % accounts.length],
      number: c.number,
      connectTime: new Date(Date.now() - c.minutesAgo * 60000).toISOString(),
      duration: c.duration,
    }));
  }

  /** Every holder's balance equals the sum of its ledger entries. */
  async function expectBalancesEqualLedgers() {
    expect(await holdersOffTheirLedgers(t.dataSource)).toEqual([]);
  }

  /** The usage entries of these calls, by callId and party. */
  async function usageEntries(callIds: string[]): Promise<Map<string, number>> {
    const rows: Array<{ notes: string; holder: string; n: number }> = await t.dataSource.query(
      `SELECT notes, COALESCE(customer_id, account_id) AS holder, count(*)::int AS n FROM ledger_entries
        WHERE action = 'usage' AND notes = ANY ($1) GROUP BY 1, 2`,
      [callIds],
    );
    return new Map(rows.map((r) => [`${r.notes}|${r.holder}`, r.n]));
  }

  async function snapshot() {
    const [row] = await t.dataSource.query(
      `SELECT (SELECT count(*) FROM ledger_entries)::int AS entries, (SELECT count(*) FROM calls)::int AS calls,
              (SELECT count(*) FROM call_charges)::int AS charges, (SELECT COALESCE(sum(calls), 0)::int FROM usage_daily) AS daily,
              (SELECT string_agg(customer_id || '=' || balance::text, ',' ORDER BY customer_id) FROM customer_balances) AS customers,
              (SELECT string_agg(account_id || '=' || balance::text, ',' ORDER BY account_id) FROM account_balances) AS accounts`,
    );
    return row;
  }

  type Item = { callId: string; status: string; call?: { charges: Array<{ party: { id: string }; convertedAmount: string; ledgerEntryId: string | null }> } };

  /** Every rated call: one usage entry per party with a non-zero charge (notes = callId, id = ledgerEntryId), none for the others. */
  async function expectOneEntryPerChargedParty(items: Item[]) {
    const entries = await usageEntries(items.map((i) => i.callId));
    let expected = 0;
    for (const item of items) {
      if (item.status !== 'rated') continue;
      for (const charge of item.call!.charges) {
        const n = entries.get(`${item.callId}|${charge.party.id}`) ?? 0;
        expect(n).toBe(charge.ledgerEntryId === null ? 0 : 1);
        expect(charge.ledgerEntryId === null).toBe(Number(charge.convertedAmount) === 0);
        expected += n;
      }
    }
    // And nothing for refused calls.
    expect([...entries.values()].reduce((a, b) => a + b, 0)).toBe(expected);
  }

  it('charges every party of every rated call exactly once, and balances equal their ledgers', async () => {
    await fc.assert(
      fc.asyncProperty(treeSpec, callsSpec, async (tree, specs) => {
        const accounts = await buildTree(tree);
        const calls = callsOf(accounts, specs);
        const res = await root.post('/v1/calls', { calls }).expect(200);
        const items: Item[] = res.body.items;
        expect(items.map((i) => i.callId)).toEqual(calls.map((c) => c.callId));
        await expectOneEntryPerChargedParty(items);
        await expectBalancesEqualLedgers();
        // A refused call left nothing behind.
        const refused = items.filter((i) => i.status === 'refused').map((i) => i.callId);
        const [{ n }] = await t.dataSource.query(`SELECT count(*)::int AS n FROM calls WHERE call_id = ANY ($1)`, [refused]);
        expect(n).toBe(0);
      }),
      { numRuns: 15 },
    );
  }, 120000);

  it('replaying a batch shuffled, split and concurrent changes nothing and answers the original calls', async () => {
    await fc.assert(
      fc.asyncProperty(treeSpec, callsSpec, fc.integer({ min: 1, max: 4 }), fc.nat(), async (tree, specs, parts, seed) => {
        const accounts = await buildTree(tree);
        const calls = callsOf(accounts, specs);
        const first = await root.post('/v1/calls', { calls }).expect(200);
        const original = new Map<string, Item>(first.body.items.map((i: Item) => [i.callId, i]));
        const before = await snapshot();
        // Shuffle (seeded), then post in `parts` concurrent requests, twice over.
        const shuffled = calls.map((c, i) => ({ c, k: (i * 7919 + seed) % 1009 })).sort((a, b) => a.k - b.k).map((x) => x.c);
        const chunks = Array.from({ length: parts }, (_, p) => shuffled.filter((_, i) => i % parts === p)).filter((c) => c.length);
        const answers = await Promise.all([...chunks, ...chunks].map((chunk) => root.post('/v1/calls', { calls: chunk }).expect(200)));
        for (const answer of answers) {
          for (const item of answer.body.items as Item[]) {
            const was = original.get(item.callId)!;
            if (was.status === 'refused') {
              // A refused call is posted again (nothing of it was kept): refused again with the same problem.
              expect(item.status).toBe('refused');
            } else {
              expect(item).toEqual({ ...was, status: 'replayed' });
            }
          }
        }
        expect(await snapshot()).toEqual(before);
        await expectBalancesEqualLedgers();
      }),
      { numRuns: 15 },
    );
  }, 120000);

  it('two instances posting the same calls at once charge them once', async () => {
    const second = await startSecondInstance(t);
    try {
      await fc.assert(
        fc.asyncProperty(treeSpec, callsSpec, async (tree, specs) => {
          const accounts = await buildTree(tree);
          const calls = callsOf(accounts, specs);
          const reversed = [...calls].reverse();
          const [a, b] = await Promise.all([
            root.post('/v1/calls', { calls }).expect(200),
            second.http().post('/v1/calls').set('Authorization', `Bearer ${root.token}`).send({ calls: reversed }).expect(200),
          ]);
          const byId = new Map<string, Item>((b.body.items as Item[]).map((i) => [i.callId, i]));
          const rated: Item[] = [];
          for (const item of a.body.items as Item[]) {
            const other = byId.get(item.callId)!;
            if (item.status === 'refused') {
              expect(other.status).toBe('refused');
              continue;
            }
            // One instance rated it, the other replayed the same call.
            expect([item.status, other.status].sort()).toEqual(['rated', 'replayed']);
            expect(other.call).toEqual(item.call);
            rated.push(item.status === 'rated' ? item : other);
          }
          await expectOneEntryPerChargedParty([...rated, ...(a.body.items as Item[]).filter((i) => i.status === 'refused')]);
          await expectBalancesEqualLedgers();
        }),
        { numRuns: 8 },
      );
    } finally {
      await second.close();
    }
  }, 120000);
});

