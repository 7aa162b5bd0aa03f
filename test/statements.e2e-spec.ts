import Big from 'big.js';
import fc from 'fast-check';
import { randomUUID } from 'node:crypto';
import { Actor, createCustomer, expectProblem, loginRoot, uniqueName } from './setup/factories';
import { startTestApp, TestApp } from './setup/test-app';

const MISSING = '00000000-0000-4000-8000-000000000000';
const ACTIONS = ['opening_balance', 'add_funds', 'credit', 'debit', 'usage'] as const;
type Action = (typeof ACTIONS)[number];

/** A backdated ledger entry: its instant, action and signed amount (as converted_amount), and for usage the call's seconds. */
interface Entry {
  at: Date;
  action: Action;
  amount: Big;
  seconds?: number;
}

type Holder = { kind: 'customer' | 'account'; id: string };

/** The calendar month (YYYY-MM) of an instant in a zone, by ICU (Intl): the oracle, independent of PostgreSQL. */
function localMonth(at: Date, timeZone: string): string {
  const parts = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit' }).formatToParts(at);
  return `${parts.find((p) => p.type === 'year')!.value}-${parts.find((p) => p.type === 'month')!.value}`;
}

function localTime(at: Date, timeZone: string): string {
  const parts = new Intl.DateTimeFormat('en-GB', { timeZone, day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' }).formatToParts(at);
  const part = (type: string) => parts.find((p) => p.type === type)!.value;
  return `${part('day')} ${part('hour')}:${part('minute')}:${part('second')}`;
}

function nextMonth(month: string): string {
  const [y, m] = month.split('-').map(Number);
  return m === 12 ? `${y + 1}-01` : `${y}-${String(m + 1).padStart(2, '0')}`;
}

function monthsFrom(first: string, last: string): string[] {
  const months = [first];
  while (months[months.length - 1] !== last) months.push(nextMonth(months[months.length - 1]));
  return months;
}

const sum = (values: string[]) => values.reduce((acc, v) => acc.plus(v), new Big(0));

describe('statements (GET /v1/customers/{id}/statement, GET /v1/accounts/{id}/statement)', () => {
  let t: TestApp;
  let root: Actor;

  beforeAll(async () => {
    t = await startTestApp();
    root = await loginRoot(t);
  });
  afterAll(() => t.close());

  /**
   * TEST DATA SETUP, not the thing tested: ledger entries cannot be written in the past
   * through the API, so backdated entries are inserted here with SQL, in time order, each
   * balance_after the running sum (in seq order), and the holder's balance set to the final
   * sum, as the posting would have left them. Usage entries get a call charge pointing at
   * them. The statements themselves are read through HTTP.
   */
  async function insertHistory(holder: Holder, entries: Entry[]): Promise<void> {
    const sorted = [...entries].sort((a, b) => a.at.getTime() - b.at.getTime());
    const [{ balance }] = await t.dataSource.query(`SELECT balance::text AS balance FROM ${holder.kind}_balances WHERE ${holder.kind}_id = $1`, [holder.id]);
    let running = new Big(balance);
    const rows = sorted.map((e) => {
      running = running.plus(e.amount);
      return { id: randomUUID(), ...e, after: running.toFixed(8) };
    });
    await t.dataSource.query(
      `INSERT INTO ledger_entries (id, customer_id, account_id, action, amount, currency, exchange_rate, converted_amount, balance_after, notes, created_at)
       SELECT r.id, $2::uuid, $3::uuid, r.action, abs(r.amount), 'USD', 1, r.amount, r.after, 'backdated test entry', r.at
         FROM unnest($1::uuid[], $4::text[], $5::numeric[], $6::numeric[], $7::timestamptz[]) WITH ORDINALITY AS r(id, action, amount, after, at, ord)
        ORDER BY r.ord`,
      [
        rows.map((r) => r.id),
        holder.kind === 'customer' ? holder.id : null,
        holder.kind === 'account' ? holder.id : null,
        rows.map((r) => r.action),
        rows.map((r) => r.amount.toFixed(8)),
        rows.map((r) => r.after),
        rows.map((r) => r.at.toISOString()),
      ],
    );
    const usage = rows.filter((r) => r.action === 'usage');
    // A zero charge (no ledger entry) on the same party: it must not count.
    const charges = [...usage.map((r) => ({ entry: r.id as string | null, at: r.at, seconds: r.seconds ?? 0, amount: r.amount.abs().toFixed(8) }))];
    if (usage.length) charges.push({ entry: null, at: usage[0].at, seconds: 999, amount: '0' });
    if (charges.length) {
      await t.dataSource.query(
        `INSERT INTO call_charges (call_uuid, level, party_kind, party_id, party_depth, seller_id, tariff_id, prefix, price, billed_seconds, amount,
                                   currency, exchange_rate, converted_amount, charged_currency, ledger_entry_id, revenue, seller_cost, seller_currency,
                                   account_id, customer_id, customer_path, number, connect_time, duration)
         SELECT gen_random_uuid(), 0, $1, $2::uuid, 1, $2::uuid, gen_random_uuid(), '44', 1, c.seconds, c.amount, 'USD', 1, c.amount, 'USD',
                c.entry, c.amount, 0, 'USD', $2::uuid, $2::uuid, '/', '+4420', c.at, c.seconds
           FROM unnest($3::uuid[], $4::int[], $5::numeric[], $6::timestamptz[]) AS c(entry, seconds, amount, at)`,
        [holder.kind, holder.id, charges.map((c) => c.entry), charges.map((c) => c.seconds), charges.map((c) => c.amount), charges.map((c) => c.at.toISOString())],
      );
    }
    await t.dataSource.query(`UPDATE ${holder.kind}_balances SET balance = $1 WHERE ${holder.kind}_id = $2`, [running.toFixed(8), holder.id]);
  }

  const statement = (actor: Actor, holder: Holder, month?: string) =>
    actor.get(`/v1/${holder.kind}s/${holder.id}/statement${month ? `?month=${month}` : ''}`);

  /** An account of `customerId` (created by `owner`, an ancestor), on a tariff the customer owns. */
  async function createAccount(owner: Actor, customerId: string, timeZone: string): Promise<string> {
    const tariff = await owner.post('/v1/tariffs', { name: uniqueName('tariff'), currency: 'USD', ownerId: customerId }).expect(201);
    const res = await owner
      .post('/v1/accounts', {
        customerId,
        username: uniqueName('sip'),
        webPassword: 'web-secret-1234',
        voipPassword: 'voip-secret-5678',
        tariffId: tariff.body.id,
        timeZone,
      })
      .expect(201);
    return res.body.id;
  }

  it('sums the current month from the API’s own postings: opening + totals = closing', async () => {
    const c = await createCustomer(t, root, { timeZone: 'Europe/Berlin', balance: '100.00' });
    const holder: Holder = { kind: 'customer', id: c.id };
    const op = (body: object) => root.post(`/v1/customers/${c.id}/balance-operations`, body).set('Idempotency-Key', randomUUID()).expect(201);
    await op({ action: 'add_funds', amount: '50.00' });
    await op({ action: 'credit', amount: '0.25' });
    await op({ action: 'debit', amount: '5.10' });

    const res = await statement(c, holder).expect(200);
    const month = localMonth(new Date(), 'Europe/Berlin');
    expect(res.body).toEqual({
      holder: { type: 'customer', id: c.id },
      month,
      timeZone: 'Europe/Berlin',
      currency: 'USD',
      from: expect.any(String),
      to: expect.any(String),
      openingBalance: '0.00',
      totals: { opening_balance: '100.00', add_funds: '50.00', credit: '0.25', debit: '-5.10', usage: '0.00' },
      usage: { calls: 0, seconds: 0 },
      closingBalance: '145.15',
    });
    expect((await statement(root, holder, month).expect(200)).body).toEqual(res.body);
    const after = await statement(root, holder, nextMonth(month)).expect(200);
    expect(after.body).toMatchObject({
      openingBalance: '145.15',
      closingBalance: '145.15',
      totals: { opening_balance: '0.00', add_funds: '0.00', credit: '0.00', debit: '0.00', usage: '0.00' },
    });
  });

  it('computes the month in the holder’s zone, across DST: 2026-03-31T22:30:00Z is April in Berlin, March in UTC', async () => {
    const berlin = await createCustomer(t, root, { timeZone: 'Europe/Berlin' });
    const utc = await createCustomer(t, root, { timeZone: 'UTC' });
    for (const c of [berlin, utc]) {
      await insertHistory({ kind: 'customer', id: c.id }, [{ at: new Date('2026-03-31T22:30:00Z'), action: 'add_funds', amount: new Big('7.00') }]);
    }
    const b = (m: string) => statement(root, { kind: 'customer', id: berlin.id }, m).expect(200);
    const u = (m: string) => statement(root, { kind: 'customer', id: utc.id }, m).expect(200);
    expect((await b('2026-03')).body).toMatchObject({
      from: '2026-02-28T23:00:00.000Z', // CET, UTC+1
      to: '2026-03-31T22:00:00.000Z', // CEST since 29 March, UTC+2
      totals: { add_funds: '0.00' },
      closingBalance: '0.00',
    });
    expect((await b('2026-04')).body).toMatchObject({ from: '2026-03-31T22:00:00.000Z', totals: { add_funds: '7.00' }, openingBalance: '0.00', closingBalance: '7.00' });
    expect((await u('2026-03')).body).toMatchObject({
      from: '2026-03-01T00:00:00.000Z',
      to: '2026-04-01T00:00:00.000Z',
      totals: { add_funds: '7.00' },
      closingBalance: '7.00',
    });
    expect((await u('2026-04')).body).toMatchObject({ openingBalance: '7.00', totals: { add_funds: '0.00' }, closingBalance: '7.00' });
    // October in Berlin ends in CET; November in New York begins in EDT and ends in EST.
    expect((await b('2026-10')).body).toMatchObject({ from: '2026-09-30T22:00:00.000Z', to: '2026-10-31T23:00:00.000Z' });
    const ny = await createCustomer(t, root, { timeZone: 'America/New_York' });
    const n = await statement(root, { kind: 'customer', id: ny.id }, '2026-11').expect(200);
    expect(n.body).toMatchObject({ from: '2026-11-01T04:00:00.000Z', to: '2026-12-01T05:00:00.000Z', timeZone: 'America/New_York' });
  });

  it('counts the holder’s usage: calls and seconds of its usage entries in the month', async () => {
    const c = await createCustomer(t, root, { timeZone: 'UTC' });
    const accountId = await createAccount(root, c.id, 'UTC');
    const account: Holder = { kind: 'account', id: accountId };
    await insertHistory(account, [
      { at: new Date('2026-05-01T10:00:00Z'), action: 'add_funds', amount: new Big('10') },
      { at: new Date('2026-05-02T10:00:00Z'), action: 'usage', amount: new Big('-0.10'), seconds: 61 },
      { at: new Date('2026-05-31T23:59:59Z'), action: 'usage', amount: new Big('-0.20'), seconds: 120 },
      { at: new Date('2026-06-01T00:00:00Z'), action: 'usage', amount: new Big('-0.40'), seconds: 300 },
    ]);
    const may = await statement(c, account, '2026-05').expect(200);
    expect(may.body).toMatchObject({
      holder: { type: 'account', id: accountId },
      currency: 'USD',
      openingBalance: '0.00',
      totals: { add_funds: '10.00', usage: '-0.30' },
      usage: { calls: 2, seconds: 181 },
      closingBalance: '9.70',
    });
    const june = await statement(c, account, '2026-06').expect(200);
    expect(june.body).toMatchObject({ openingBalance: '9.70', totals: { usage: '-0.40' }, usage: { calls: 1, seconds: 300 }, closingBalance: '9.30' });
  });

  it('property: opening + totals = closing and each closing is the next opening, across DST (Berlin customer, New York account)', async () => {
    const instant = fc.oneof(
      // anywhere in February–November 2026
      fc.integer({ min: Date.UTC(2026, 1, 1), max: Date.UTC(2026, 10, 30) }),
      // near a month's start in UTC (± 8 hours covers both zones' local midnights)
      fc.tuple(fc.integer({ min: 2, max: 12 }), fc.integer({ min: -8 * 3600, max: 8 * 3600 })).map(([m, s]) => Date.UTC(2026, m - 1, 1) + s * 1000),
      // near the DST changes: Berlin 29 March and 25 October at 01:00Z, New York 8 March 07:00Z and 1 November 06:00Z
      fc
        .tuple(fc.constantFrom('2026-03-29T01:00:00Z', '2026-10-25T01:00:00Z', '2026-03-08T07:00:00Z', '2026-11-01T06:00:00Z'), fc.integer({ min: -3 * 3600, max: 3 * 3600 }))
        .map(([at, s]) => Date.parse(at) + s * 1000),
    );
    const entry = fc.record({
      at: instant.map((ms) => new Date(ms)),
      action: fc.constantFrom(...ACTIONS),
      cents: fc.integer({ min: 1, max: 100_000 }),
      seconds: fc.integer({ min: 0, max: 86400 }),
    });
    const history = fc.array(entry, { minLength: 0, maxLength: 30 }).map((list) =>
      list.map((e): Entry => ({
        at: e.at,
        action: e.action,
        amount: new Big(e.cents).div(100).times(e.action === 'debit' || e.action === 'usage' ? -1 : 1),
        seconds: e.action === 'usage' ? e.seconds : undefined,
      })),
    );

    await fc.assert(
      fc.asyncProperty(history, history, async (customerHistory, accountHistory) => {
        const c = await createCustomer(t, root, { timeZone: 'Europe/Berlin' });
        const accountId = await createAccount(root, c.id, 'America/New_York');
        const cases: Array<[Holder, string, Entry[]]> = [
          [{ kind: 'customer', id: c.id }, 'Europe/Berlin', customerHistory],
          [{ kind: 'account', id: accountId }, 'America/New_York', accountHistory],
        ];
        for (const [holder, zone, entries] of cases) {
          await insertHistory(holder, entries);
          let previousClosing = '0.00';
          for (const month of monthsFrom('2026-01', '2026-12')) {
            const res = await statement(c, holder, month).expect(200);
            const s = res.body;
            // The oracle: the entries whose instant ICU puts in this month of the zone.
            const inMonth = entries.filter((e) => localMonth(e.at, zone) === month);
            const before = entries.filter((e) => localMonth(e.at, zone) < month);
            const expectedTotals = Object.fromEntries(ACTIONS.map((a) => [a, sum(inMonth.filter((e) => e.action === a).map((e) => e.amount.toFixed(8)))]));
            for (const a of ACTIONS) expect(new Big(s.totals[a]).eq(expectedTotals[a])).toBe(true);
            expect(new Big(s.openingBalance).eq(sum(before.map((e) => e.amount.toFixed(8))))).toBe(true);
            const usage = inMonth.filter((e) => e.action === 'usage');
            expect(s.usage).toEqual({ calls: usage.length, seconds: usage.reduce((acc, e) => acc + (e.seconds ?? 0), 0) });
            // The statement's own identity, and the chain of months.
            expect(new Big(s.openingBalance).plus(sum(Object.values(s.totals) as string[])).eq(s.closingBalance)).toBe(true);
            expect(s.openingBalance).toBe(previousClosing);
            previousClosing = s.closingBalance;
            // The bounds are the zone's local midnights of the 1st: ICU agrees with PostgreSQL.
            const from = new Date(s.from);
            const to = new Date(s.to);
            expect(localMonth(from, zone)).toBe(month);
            expect(localMonth(new Date(from.getTime() - 1), zone)).not.toBe(month);
            expect(localMonth(new Date(to.getTime() - 1), zone)).toBe(month);
            expect(localMonth(to, zone)).toBe(nextMonth(month));
            expect(localTime(from, zone)).toBe('01 00:00:00');
          }
        }
      }),
      { numRuns: 12 },
    );
  });

  it('answers 404 for holders outside the subtree and 400 for a bad month', async () => {
    const a = await createCustomer(t, root, { timeZone: 'UTC' });
    const b = await createCustomer(t, a);
    const other = await createCustomer(t, root);
    const accountOfRoot = await createAccount(root, other.id, 'UTC');
    // Itself and below: fine.
    await statement(a, { kind: 'customer', id: a.id }, '2026-01').expect(200);
    await statement(a, { kind: 'customer', id: b.id }, '2026-01').expect(200);
    // Above, beside, unknown: 404.
    for (const id of [root.id, other.id, MISSING]) expectProblem(await statement(a, { kind: 'customer', id }, '2026-01'), 404);
    for (const id of [accountOfRoot, MISSING]) expectProblem(await statement(a, { kind: 'account', id }, '2026-01'), 404);
    // Bad months.
    for (const month of ['2026-13', '2026-00', '2026-1', '26-01', '2026-01-01', 'March', '9999-12', '0999-01']) {
      const res = await statement(a, { kind: 'customer', id: a.id }, month);
      expectProblem(res, 400);
      expect(res.body.errors).toEqual([expect.objectContaining({ parameter: 'month' })]);
    }
    const unknown = await a.get(`/v1/customers/${a.id}/statement?month=2026-01&from=2026-01-01`);
    expectProblem(unknown, 400);
    expectProblem(await a.get(`/v1/customers/not-a-uuid/statement`), 400);
    // A month in the future is fine: empty, at the current balance.
    const future = await statement(a, { kind: 'customer', id: a.id }, '2099-07').expect(200);
    expect(future.body).toMatchObject({ month: '2099-07', openingBalance: '0.00', closingBalance: '0.00', usage: { calls: 0, seconds: 0 } });
  });
});
