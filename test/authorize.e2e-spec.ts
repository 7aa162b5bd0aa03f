import fc from 'fast-check';
import { Big, convert } from '../src/common/money';
import { priceCall } from '../src/usage/rating';
import { Actor, createCustomer, createTariff, expectProblem, loginRoot, uniqueName } from './setup/factories';
import { startTestApp, TestApp } from './setup/test-app';

const MISSING = '00000000-0000-4000-8000-000000000000';
const NUMBER = '+442071234567';
const AT = '2026-06-01T12:00:00Z';

/** One level's terms: its tariff (owned by its seller) with one rate for 44, and its money. */
interface LevelTerms {
  price?: string;
  first?: number;
  next?: number;
  rateFee?: string;
  tariffFee?: string;
  freeSeconds?: number;
  currency?: string;
  /** false: the tariff has no rate for the number. */
  rate?: boolean;
  balance?: string;
  creditLimit?: string;
}

interface Chain {
  a: Actor;
  b: Actor;
  accountId: string;
  /** The tariff of each level (for rates added later). */
  tariffs: { a: string; b: string; x: string };
}

describe('call authorization (POST /v1/calls/authorize)', () => {
  let t: TestApp;
  let root: Actor;

  beforeAll(async () => {
    t = await startTestApp();
    root = await loginRoot(t);
  });
  afterAll(() => t.close());

  async function tariffWithRate(owner: Actor, terms: LevelTerms): Promise<string> {
    const tariffId = await createTariff(owner, {
      currency: terms.currency ?? 'USD',
      connectFee: terms.tariffFee ?? '0',
      freeSeconds: terms.freeSeconds ?? 0,
    });
    if (terms.rate !== false) {
      await owner
        .post(`/v1/tariffs/${tariffId}/rates`, {
          prefix: '44',
          price: terms.price ?? '0.01',
          firstInterval: terms.first ?? 1,
          nextInterval: terms.next ?? 1,
          connectFee: terms.rateFee ?? '0',
          effectiveFrom: '2026-01-01T00:00:00Z',
        })
        .expect(201);
    }
    return tariffId;
  }

  /**
   * root → A → B → account X of B. A is sold on a tariff of root's, B on one of A's, X on one
   * of B's. Defaults: plenty of money everywhere and 0.01 a minute, so that nothing limits.
   */
  async function chain(terms: { a?: LevelTerms; b?: LevelTerms; x?: LevelTerms } = {}): Promise<Chain> {
    const money = (l: LevelTerms | undefined) => ({ balance: l?.balance ?? '100000', creditLimit: l?.creditLimit ?? '0' });
    const ta = await tariffWithRate(root, terms.a ?? {});
    const a = await createCustomer(t, root, { tariffId: ta, ...money(terms.a) });
    const tb = await tariffWithRate(a, terms.b ?? {});
    const b = await createCustomer(t, a, { tariffId: tb, ...money(terms.b) });
    const tx = await tariffWithRate(b, terms.x ?? {});
    const account = await b
      .post('/v1/accounts', {
        customerId: b.id,
        username: uniqueName('sip'),
        webPassword: 'web-secret-1234',
        voipPassword: 'voip-secret-5678',
        tariffId: tx,
        ...money(terms.x),
      })
      .expect(201);
    return { a, b, accountId: account.body.id, tariffs: { a: ta, b: tb, x: tx } };
  }

  const authorize = (actor: Actor, body: Record<string, unknown>) => actor.post('/v1/calls/authorize', body);

  /** Gives `customer` the right usage.post (granted by `grantor`, its parent). */
  async function grantUsagePost(grantor: Actor, customer: Actor): Promise<void> {
    const current = await grantor.get(`/v1/customers/${customer.id}/permissions`).expect(200);
    await grantor.put(`/v1/customers/${customer.id}/permissions`, { permissions: [...current.body.permissions, 'usage.post'] }).expect(200);
  }

  it('is limited by the account: 1.00 at 0.60 a minute, billed per second, is 100 seconds', async () => {
    const c = await chain({ x: { price: '0.60', balance: '1.00' }, b: { price: '0.30', balance: '10.00' } });
    const res = await authorize(root, { accountId: c.accountId, number: NUMBER, connectTime: AT }).expect(200);
    expect(res.body).toEqual({ authorized: true, maxDuration: 100, limitedBy: { type: 'account', id: c.accountId } });
  });

  it('is limited by a customer in the middle: 0.50 at 0.30 per started minute is one minute', async () => {
    const c = await chain({ x: { price: '0.60', balance: '100' }, b: { price: '0.30', first: 60, next: 60, balance: '0.50' } });
    const res = await authorize(root, { accountId: c.accountId, number: NUMBER, connectTime: AT }).expect(200);
    expect(res.body).toEqual({ authorized: true, maxDuration: 60, limitedBy: { type: 'customer', id: c.b.id } });
  });

  it('counts connect fees: 1.00 with 0.40 of fees at 0.60 a minute is 60 seconds', async () => {
    const c = await chain({ x: { price: '0.60', tariffFee: '0.25', rateFee: '0.15', balance: '1.00' } });
    const res = await authorize(root, { accountId: c.accountId, number: NUMBER, connectTime: AT }).expect(200);
    expect(res.body).toEqual({ authorized: true, maxDuration: 60, limitedBy: { type: 'account', id: c.accountId } });
  });

  it('gives the free seconds to a level without money', async () => {
    const c = await chain({ b: { price: '0.30', freeSeconds: 30, balance: '0' } });
    const res = await authorize(root, { accountId: c.accountId, number: NUMBER, connectTime: AT }).expect(200);
    expect(res.body).toEqual({ authorized: true, maxDuration: 30, limitedBy: { type: 'customer', id: c.b.id } });
  });

  it('refuses a call whose first interval a level cannot pay for', async () => {
    const c = await chain({ x: { price: '0.60', first: 60, next: 6, balance: '0.59' } });
    const res = await authorize(root, { accountId: c.accountId, number: NUMBER, connectTime: AT }).expect(200);
    expect(res.body).toEqual({ authorized: false, maxDuration: 0, limitedBy: { type: 'account', id: c.accountId } });
  });

  it('refuses a call a level has no rate for, naming that level', async () => {
    const c = await chain({ a: { rate: false } });
    const res = await authorize(root, { accountId: c.accountId, number: NUMBER, connectTime: AT }).expect(200);
    expect(res.body).toEqual({ authorized: false, maxDuration: 0, limitedBy: { type: 'customer', id: c.a.id } });
    // A number no level prices: the account, first from the bottom, is named.
    const other = await authorize(root, { accountId: c.accountId, number: '+33123', connectTime: AT }).expect(200);
    expect(other.body).toEqual({ authorized: false, maxDuration: 0, limitedBy: { type: 'account', id: c.accountId } });
  });

  it('never lets a level whose price is zero limit, even without money', async () => {
    const c = await chain({ x: { price: '0', balance: '0' }, b: { price: '0.006', balance: '100' } });
    const res = await authorize(root, { accountId: c.accountId, number: NUMBER, connectTime: AT }).expect(200);
    // B: 100 at 0.006 a minute lasts 1,000,000 seconds, more than the cap.
    expect(res.body).toEqual({ authorized: true, maxDuration: 86400, limitedBy: null });
  });

  it('converts the price with the seller’s exchange-rate table', async () => {
    await root.put('/v1/exchange-rates/EUR', { rate: '1.10' }).expect(200);
    // A (USD) is sold at 0.50 EUR a minute = 0.55 USD: 1.10 USD is 120 seconds (132 without conversion).
    const c = await chain({ a: { currency: 'EUR', price: '0.50', balance: '1.10' } });
    const res = await authorize(root, { accountId: c.accountId, number: NUMBER, connectTime: AT }).expect(200);
    expect(res.body).toEqual({ authorized: true, maxDuration: 120, limitedBy: { type: 'customer', id: c.a.id } });
  });

  it('refuses when the seller has no exchange rate for the tariff’s currency', async () => {
    const c = await chain({ a: { currency: 'JPY', price: '1' } });
    const res = await authorize(root, { accountId: c.accountId, number: NUMBER, connectTime: AT }).expect(200);
    expect(res.body).toEqual({ authorized: false, maxDuration: 0, limitedBy: { type: 'customer', id: c.a.id } });
  });

  it('counts the credit limit as available credit', async () => {
    const c = await chain({ x: { price: '0.60', balance: '0', creditLimit: '1.00' } });
    const res = await authorize(root, { accountId: c.accountId, number: NUMBER, connectTime: AT }).expect(200);
    expect(res.body).toEqual({ authorized: true, maxDuration: 100, limitedBy: { type: 'account', id: c.accountId } });
  });

  it('prices at the rate in effect at connectTime, and at now without one', async () => {
    const c = await chain({ x: { price: '0.60', balance: '1.00' } });
    await c.b
      .post(`/v1/tariffs/${c.tariffs.x}/rates`, { prefix: '44', price: '1.20', effectiveFrom: '2026-07-01T00:00:00Z' })
      .expect(201);
    const june = await authorize(root, { accountId: c.accountId, number: NUMBER, connectTime: '2026-06-30T23:59:59+00:00' }).expect(200);
    expect(june.body.maxDuration).toBe(100);
    const july = await authorize(root, { accountId: c.accountId, number: NUMBER, connectTime: '2026-07-01T02:00:00+02:00' }).expect(200);
    expect(july.body.maxDuration).toBe(50);
    const now = await authorize(root, { accountId: c.accountId, number: NUMBER.slice(1) }).expect(200);
    expect(now.body.maxDuration).toBe(new Date() >= new Date('2026-07-01T00:00:00Z') ? 50 : 100);
  });
  it('writes nothing', async () => {
    const c = await chain({ x: { price: '0.60', balance: '1.00' } });
    const count = async () => (await t.dataSource.query(`SELECT (SELECT count(*) FROM ledger_entries)::int AS e, (SELECT count(*) FROM calls)::int AS c`))[0];
    const before = await count();
    await authorize(root, { accountId: c.accountId, number: NUMBER, connectTime: AT }).expect(200);
    await authorize(root, { accountId: c.accountId, number: NUMBER, connectTime: AT }).expect(200);
    expect(await count()).toEqual(before);
    const account = await root.get(`/v1/accounts/${c.accountId}`).expect(200);
    expect(account.body.balance).toBe('1.00');
  });

  it('ignores the credit of levels above a caller that is not the root', async () => {
    // A has 0.10 at 0.60 a minute: 10 seconds, which the root (the switch) sees.
    const c = await chain({ a: { price: '0.60', balance: '0.10' }, b: { price: '0.30', balance: '1.00' }, x: { price: '0.60', balance: '100' } });
    await grantUsagePost(root, c.a);
    await grantUsagePost(c.a, c.b);
    const fromRoot = await authorize(root, { accountId: c.accountId, number: NUMBER, connectTime: AT }).expect(200);
    expect(fromRoot.body).toEqual({ authorized: true, maxDuration: 10, limitedBy: { type: 'customer', id: c.a.id } });
    // A sees itself: the same answer.
    const fromA = await authorize(c.a, { accountId: c.accountId, number: NUMBER, connectTime: AT }).expect(200);
    expect(fromA.body).toEqual(fromRoot.body);
    // B cannot see A: only B (1.00 at 0.30 a minute: 200 seconds) and the account count.
    const fromB = await authorize(c.b, { accountId: c.accountId, number: NUMBER, connectTime: AT }).expect(200);
    expect(fromB.body).toEqual({ authorized: true, maxDuration: 200, limitedBy: { type: 'customer', id: c.b.id } });
  });

  it('does not consider a missing rate above a caller that is not the root', async () => {
    const c = await chain({ a: { rate: false } });
    await grantUsagePost(root, c.a);
    await grantUsagePost(c.a, c.b);
    const res = await authorize(c.b, { accountId: c.accountId, number: NUMBER, connectTime: AT }).expect(200);
    expect(res.body).toEqual({ authorized: true, maxDuration: 86400, limitedBy: null });
  });

  it('needs usage.post (403 naming it) and answers 404 outside the subtree', async () => {
    const c = await chain();
    const forbidden = await authorize(c.b, { accountId: c.accountId, number: NUMBER });
    expectProblem(forbidden, 403);
    expect(JSON.stringify(forbidden.body)).toContain('usage.post');

    const other = await chain();
    await grantUsagePost(root, other.a);
    await grantUsagePost(other.a, other.b);
    for (const accountId of [c.accountId, MISSING]) {
      const res = await authorize(other.b, { accountId, number: NUMBER });
      expectProblem(res, 404);
    }
    // Without the right, an invisible account is still a 404 (404 before 403).
    expectProblem(await authorize(c.b, { accountId: other.accountId, number: NUMBER }), 404);
  });

  it('property: the account’s price at maxDuration fits its credit and one second more does not (EUR tariff, USD account)', async () => {
    const decimal = (max: number, scale: number) => fc.integer({ min: 0, max }).map((n) => new Big(n).div(10 ** scale).toFixed());
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          price: decimal(50_000, 4),
          first: fc.integer({ min: 1, max: 120 }),
          next: fc.integer({ min: 1, max: 60 }),
          rateFee: decimal(50, 2),
          tariffFee: decimal(50, 2),
          freeSeconds: fc.integer({ min: 0, max: 60 }),
          balance: decimal(5_000, 2),
          creditLimit: decimal(1_000, 2),
          eur: fc.integer({ min: 5_000, max: 20_000 }).map((n) => new Big(n).div(10_000).toFixed()),
        }),
        async (p) => {
          const c = await chain({
            x: { currency: 'EUR', price: p.price, first: p.first, next: p.next, rateFee: p.rateFee, tariffFee: p.tariffFee, freeSeconds: p.freeSeconds, balance: p.balance, creditLimit: p.creditLimit },
          });
          // B sells to the account: B's table converts the EUR price into the account's USD.
          await c.b.put('/v1/exchange-rates/EUR', { rate: p.eur }).expect(200);
          const res = await authorize(root, { accountId: c.accountId, number: NUMBER, connectTime: AT }).expect(200);
          const available = new Big(p.balance).plus(p.creditLimit);
          const terms = { connectFee: p.tariffFee, freeSeconds: p.freeSeconds };
          const rate = { prefix: '44', price: p.price, firstInterval: p.first, nextInterval: p.next, connectFee: p.rateFee, effectiveFrom: new Date(0) };
          const fits = (d: number) => {
            const usd = convert(priceCall(terms, rate, d).amount, p.eur);
            return usd.eq(0) || usd.lte(available);
          };
          const { maxDuration, authorized, limitedBy } = res.body;
          expect(fits(maxDuration)).toBe(true);
          expect(authorized).toBe(maxDuration > 0);
          if (maxDuration < 86400) {
            expect(fits(maxDuration + 1)).toBe(false);
            expect(limitedBy).toEqual({ type: 'account', id: c.accountId });
          } else {
            expect(limitedBy).toBeNull();
          }
        },
      ),
      { numRuns: 12 },
    );
  });

  it('answers a 400 with pointers for bad input', async () => {
    const c = await chain();
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ accountId: c.accountId, number: '+44abc' }, '/number'],
      [{ accountId: c.accountId, number: '' }, '/number'],
      [{ accountId: c.accountId, number: 442071 }, '/number'],
      [{ accountId: c.accountId, number: NUMBER, connectTime: '2026-06-01T12:00:00' }, '/connectTime'],
      [{ accountId: c.accountId, number: NUMBER, connectTime: null }, '/connectTime'],
      [{ accountId: c.accountId, number: NUMBER, duration: 60 }, '/duration'],
      [{ accountId: 'not-a-uuid', number: NUMBER }, '/accountId'],
      [{ number: NUMBER }, '/accountId'],
    ];
    for (const [body, pointer] of cases) {
      const res = await authorize(root, body);
      expectProblem(res, 400);
      expect(res.body.errors).toEqual(expect.arrayContaining([expect.objectContaining({ pointer })]));
    }
  });
});
