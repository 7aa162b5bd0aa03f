import Big from 'big.js';
import fc from 'fast-check';
import { randomUUID } from 'node:crypto';
import { Actor, createAccount, createCustomer, expectProblem, loginRoot, restrictedActor } from './setup/factories';
import { holdersOffTheirLedgers } from './setup/ledger-checks';
import { balanceOperationChangesSql, balanceOperationEntryJoin } from '../src/balances/ledger-audit';
import { startTestApp, TestApp } from './setup/test-app';

type Operation = Record<string, unknown>;

const METRICS_TOKEN = 'batches-metrics-token-0123';

const batch = (actor: Actor, operations: Operation[] | unknown, key: string = randomUUID()) =>
  actor.post('/v1/balance-operations/batch', { operations }).set('Idempotency-Key', key);

describe('balance operation batches', () => {
  let t: TestApp;
  let root: Actor;

  /** Balances, ledger sums and counts of every holder, and the number of entries and audit events in all. */
  async function snapshot() {
    const [row] = await t.dataSource.query(
      `SELECT (SELECT count(*) FROM ledger_entries)::int AS entries,
              (SELECT count(*) FROM audit_events WHERE action LIKE 'balance.%')::int AS events,
              (SELECT string_agg(customer_id || '=' || balance::text, ',' ORDER BY customer_id) FROM customer_balances) AS customers,
              (SELECT string_agg(account_id || '=' || balance::text, ',' ORDER BY account_id) FROM account_balances) AS accounts`,
    );
    return row as { entries: number; events: number; customers: string; accounts: string };
  }

  /** Every holder's balance equals the sum of its ledger entries. */
  async function expectBalancesEqualLedgers() {
    expect(await holdersOffTheirLedgers(t.dataSource)).toEqual([]);
  }

  beforeAll(async () => {
    t = await startTestApp({ METRICS_TOKEN });
    root = await loginRoot(t);
  });
  afterAll(() => t.close());

  /** Batches so far by how they were written (canopy_balance_batches_total): by THE posting statement alone, or by the batch's transaction. */
  async function written(): Promise<{ oneStatement: number; transaction: number }> {
    const text = (await t.http().get('/metrics').set('authorization', `Bearer ${METRICS_TOKEN}`).expect(200)).text;
    const value = (path: string) => Number(new RegExp(`^canopy_balance_batches_total\\{path="${path}"\\} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
    return { oneStatement: value('one-statement'), transaction: value('transaction') };
  }

  /** What a batch changed: how it was written, and the entries and audit events added. */
  async function counted<T>(work: () => Promise<T>): Promise<{ result: T; oneStatement: number; transaction: number; entries: number; events: number }> {
    const [paths, rows] = [await written(), await snapshot()];
    const result = await work();
    const [pathsAfter, rowsAfter] = [await written(), await snapshot()];
    return {
      result,
      oneStatement: pathsAfter.oneStatement - paths.oneStatement,
      transaction: pathsAfter.transaction - paths.transaction,
      entries: rowsAfter.entries - rows.entries,
      events: rowsAfter.events - rows.events,
    };
  }

  it('writes a batch of plain operations as THE posting statement alone, with every entry, audit event and the key answered', async () => {
    const c = await createCustomer(t, root, { balance: '10.00', creditLimit: '5' });
    const d = await createCustomer(t, root);
    const account = await createAccount(root, d, { creditLimit: '1' });
    const key = randomUUID();
    const operations = [
      { customerId: c.id, action: 'debit', amount: '14.00', notes: 'first', externalReference: `inv-${key}` },
      { accountId: account.id, action: 'add_funds', amount: '2', currency: 'USD', metadata: { order: '17' } },
      { customerId: c.id, action: 'add_funds', amount: '0.5' },
      { accountId: account.id, action: 'debit', amount: '2.75' },
      { customerId: d.id, action: 'credit', amount: '0.00000001' },
      { customerId: c.id, action: 'debit', amount: '1.5' },
    ];
    const run = await counted(() => batch(root, operations, key).set('x-request-id', `batch-${key}`).expect(201));
    expect(run).toMatchObject({ oneStatement: 1, transaction: 0, entries: 6, events: 6 });
    const items = run.result.body.items;
    expect(items.map((e: { balanceAfter: string }) => e.balanceAfter)).toEqual(['-4.00', '2.00', '-3.50', '-0.75', '0.00000001', '-5.00']);
    expect(items[0]).toMatchObject({
      action: 'debit',
      amount: '14.00',
      currency: 'USD',
      exchangeRate: '1.0',
      convertedAmount: '-14.00',
      notes: 'first',
      actor: root.id,
      idempotencyKey: key,
      externalReference: `inv-${key}`,
      metadata: {},
    });
    expect(items[1]).toMatchObject({ metadata: { order: '17' }, currency: 'USD', convertedAmount: '2.00' });
    // The ledger keeps the request order (newest first) and the balances are the sums of their entries.
    const ledger = await root.get(`/v1/customers/${c.id}/balance-operations`).expect(200);
    expect(ledger.body.items.slice(0, 3).map((e: { id: string }) => e.id)).toEqual([items[5].id, items[2].id, items[0].id]);
    expect(ledger.body.items[0]).toEqual(items[5]);
    expect((await root.get(`/v1/accounts/${account.id}`).expect(200)).body.balance).toBe('-0.75');
    await expectBalancesEqualLedgers();
    // One audit event per operation, carrying the request's id and the balance after.
    const ids = items.map((e: { id: string }) => e.id);
    const events: Array<{ target_id: string; action: string; balance_after: string; request_id: string }> = await t.dataSource.query(
      // Their changes are the entry's, rendered as the audit log renders them.
      `SELECT a.target_id, a.action, (${balanceOperationChangesSql('a', 'l')})->'after'->>'balanceAfter' AS balance_after, a.request_id
         FROM audit_events a ${balanceOperationEntryJoin('a', 'l')}
        WHERE a.target_id = ANY ($1::text[]) ORDER BY array_position($1::text[], a.target_id)`,
      [ids],
    );
    expect(events.map((e) => [e.target_id, e.action, e.balance_after, e.request_id])).toEqual(
      items.map((e: { id: string; action: string; balanceAfter: string }) => [e.id, `balance.${e.action}`, e.balanceAfter, `batch-${key}`]),
    );
    // The key was claimed answered by the same statement: a replay gives the same body, another body is refused.
    const stored = await t.dataSource.query(`SELECT status, response_body FROM idempotency_keys WHERE caller_id = $1 AND key = $2`, [root.id, key]);
    expect(stored).toEqual([{ status: 201, response_body: { ledgerEntryIds: ids } }]);
    const replay = await counted(() => batch(root, operations, key).expect(201));
    expect(replay).toMatchObject({ entries: 0, events: 0 });
    expect(replay.result.headers['idempotent-replayed']).toBe('true');
    expect(replay.result.body).toEqual(run.result.body);
    const reused = await batch(root, operations.slice(1), key).expect(422);
    expect(reused.body.type).toBe('https://canopy.dev/problems/idempotency-key-reused');
  });

  it('gives entries and their audit events time-ordered ids (UUID version 7), increasing in request order', async () => {
    const c = await createCustomer(t, root, { balance: '10.00' });
    const d = await createCustomer(t, root);
    const operations = Array.from({ length: 40 }, (_, i) => ({ customerId: i % 2 ? c.id : d.id, action: 'add_funds', amount: '1' }));
    const started = Date.now();
    const items: Array<{ id: string }> = (await batch(root, operations).expect(201)).body.items;
    const V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
    const millis = (id: string) => parseInt(id.replace(/-/g, '').slice(0, 12), 16);
    const ids = items.map((e) => e.id);
    expect(ids.every((id) => V7.test(id))).toBe(true);
    expect([...ids].sort()).toEqual(ids);
    expect(millis(ids[0])).toBeGreaterThanOrEqual(started - 1000);
    const audit: Array<{ id: string }> = await t.dataSource.query(
      `SELECT id FROM audit_events WHERE target_id = ANY ($1::text[]) ORDER BY array_position($1::text[], target_id)`,
      [ids],
    );
    expect(audit).toHaveLength(40);
    expect(audit.every((e) => V7.test(e.id))).toBe(true);
    expect(audit.map((e) => e.id).sort()).toEqual(audit.map((e) => e.id));
  });

  it('leaves a batch the statement cannot write whole to its transaction, which answers exactly; nothing of the statement stays', async () => {
    const other = await createCustomer(t, root);
    const reseller = await createCustomer(t, root, { creditLimit: '100' });
    const a = await createCustomer(t, reseller, { balance: '5.00' });
    const b = await createCustomer(t, reseller, { balance: '1.00', creditLimit: '1' });
    const eur = await createCustomer(t, reseller, { baseCurrency: 'EUR' });
    const elsewhere = await createCustomer(t, other);
    await reseller.put('/v1/exchange-rates/EUR', { rate: '2' }).expect(200);
    const before = await snapshot();
    const refusals: Array<[string, Operation[], Operation[]]> = [
      // The first operation alone would apply: the statement updates a, then b fails its check, and the statement is undone.
      ['insufficient funds', [{ customerId: a.id, action: 'debit', amount: '1' }, { customerId: b.id, action: 'debit', amount: '2.50' }],
        [expect.objectContaining({ pointer: '/operations/1', type: 'https://canopy.dev/problems/insufficient-funds', availableCredit: '2.00' })]],
      ['its only holder failing', [{ customerId: b.id, action: 'debit', amount: '5' }],
        [expect.objectContaining({ pointer: '/operations/0', type: 'https://canopy.dev/problems/insufficient-funds', availableCredit: '2.00' })]],
      ['a missing account', [{ customerId: a.id, action: 'add_funds', amount: '1' }, { accountId: randomUUID(), action: 'add_funds', amount: '1' }],
        [expect.objectContaining({ pointer: '/operations/1', type: 'https://canopy.dev/problems/not-found', detail: 'The account does not exist.' })]],
      ['another subtree', [{ customerId: a.id, action: 'add_funds', amount: '1' }, { customerId: elsewhere.id, action: 'add_funds', amount: '1' }],
        [expect.objectContaining({ pointer: '/operations/1', type: 'https://canopy.dev/problems/not-found' })]],
      ['a reference given twice', [
        { customerId: a.id, action: 'add_funds', amount: '1', externalReference: 'twice' },
        { customerId: a.id, action: 'add_funds', amount: '1', externalReference: 'twice' },
      ], [expect.objectContaining({ pointer: '/operations/1', type: 'https://canopy.dev/problems/duplicate-reference', duplicateOf: '/operations/0' })]],
      ['the caller itself', [{ customerId: a.id, action: 'add_funds', amount: '1' }, { customerId: reseller.id, action: 'add_funds', amount: '1' }],
        [expect.objectContaining({ pointer: '/operations/1', type: 'https://canopy.dev/problems/not-a-descendant' })]],
    ];
    for (const [what, operations, errors] of refusals) {
      const run = await counted(() => batch(reseller, operations));
      expect([what, run.result.status, run.result.body.errors]).toEqual([what, 422, errors]);
      expect([what, run.oneStatement, run.transaction, run.entries, run.events]).toEqual([what, 0, 1, 0, 0]);
    }
    const after = await snapshot();
    expect([after.customers, after.accounts]).toEqual([before.customers, before.accounts]);

    // A conversion is the transaction's too, and applies.
    const converted = await counted(() =>
      batch(reseller, [{ customerId: eur.id, action: 'add_funds', amount: '10', currency: 'USD' }, { customerId: a.id, action: 'add_funds', amount: '1' }]).expect(201),
    );
    expect(converted).toMatchObject({ oneStatement: 0, transaction: 1, entries: 2, events: 2 });
    expect(converted.result.body.items[0]).toMatchObject({ currency: 'USD', exchangeRate: '0.5', convertedAmount: '5.00', balanceAfter: '5.00' });
    // A reference already on the ledger: the statement fails on its index, the transaction names the entry.
    const first = await batch(reseller, [{ customerId: a.id, action: 'add_funds', amount: '1', externalReference: 'once' }]).expect(201);
    const again = await counted(() => batch(reseller, [{ customerId: a.id, action: 'add_funds', amount: '1', externalReference: 'once' }]).expect(422));
    expect(again).toMatchObject({ oneStatement: 0, transaction: 1, entries: 0, events: 0 });
    expect(again.result.body.errors).toEqual([
      expect.objectContaining({ pointer: '/operations/0', type: 'https://canopy.dev/problems/duplicate-reference', existingEntryId: first.body.items[0].id }),
    ]);
    await expectBalancesEqualLedgers();
  });

  it('neither waits for nor holds the balance row of a holder out of the caller\'s reach', async () => {
    const other = await createCustomer(t, root);
    const elsewhere = await createCustomer(t, other);
    const reseller = await createCustomer(t, root);
    const mine = await createCustomer(t, reseller);
    // Another transaction holds the balance row of a customer in another subtree.
    const holding = t.dataSource.createQueryRunner();
    await holding.connect();
    await holding.startTransaction();
    await holding.query('SELECT 1 FROM customer_balances WHERE customer_id = $1 FOR UPDATE', [elsewhere.id]);
    const answer = counted(() =>
      batch(reseller, [
        { customerId: mine.id, action: 'add_funds', amount: '1' },
        { customerId: elsewhere.id, action: 'add_funds', amount: '1' },
      ]).then((r) => r),
    );
    try {
      // Answered while the row is still held: the statement never asked for it (3 s is a bound on a hang, not a speed).
      const first = await Promise.race([answer, new Promise<'still waiting'>((resolve) => setTimeout(() => resolve('still waiting'), 3000))]);
      expect(first).not.toBe('still waiting');
    } finally {
      await holding.rollbackTransaction();
      await holding.release();
    }
    const run = await answer;
    expect(run.result.status).toBe(422);
    expect(run.result.body.errors).toEqual([expect.objectContaining({ pointer: '/operations/1', type: 'https://canopy.dev/problems/not-found' })]);
    expect(run).toMatchObject({ oneStatement: 0, transaction: 1, entries: 0, events: 0 });
  }, 20000);

  it('writes concurrent batches over the same holders, each in its own order, as one statement each: no deadlock, no fallback', async () => {
    const holders: Operation[] = [];
    for (let i = 0; i < 4; i++) holders.push({ customerId: (await createCustomer(t, root, { balance: '100' })).id });
    const owner = await createCustomer(t, root, { balance: '100' });
    for (let i = 0; i < 2; i++) holders.push({ accountId: (await createAccount(root, owner, { creditLimit: '100' })).id });
    const batches = Array.from({ length: 8 }, (_, i) =>
      Array.from({ length: 30 }, (_, j) => ({ ...holders[(j * (i % 2 ? 5 : 1) + i) % holders.length], action: j % 2 ? 'debit' : 'add_funds', amount: '0.25' })),
    );
    const run = await counted(() => Promise.all(batches.map((ops) => batch(root, ops))));
    expect(run.result.map((r) => r.status)).toEqual(batches.map(() => 201));
    expect(run).toMatchObject({ oneStatement: 8, transaction: 0, entries: 240, events: 240 });
    await expectBalancesEqualLedgers();
  });

  it('applies every operation in order, several on one target one after the other, with one audit event each', async () => {
    const c = await createCustomer(t, root, { balance: '10.00', creditLimit: '5' });
    const before = await snapshot();
    const res = await batch(root, [
      { customerId: c.id, action: 'debit', amount: '12.00', notes: 'first' },
      { customerId: c.id, action: 'add_funds', amount: '0.1' },
      { customerId: c.id, action: 'debit', amount: '3.10' },
      { customerId: c.id, action: 'credit', amount: '0.00000001' },
    ]).expect(201);
    expect(res.body.items.map((e: { balanceAfter: string }) => e.balanceAfter)).toEqual(['-2.00', '-1.90', '-5.00', '-4.99999999']);
    expect(res.body.items[0]).toMatchObject({
      action: 'debit',
      amount: '12.00',
      currency: 'USD',
      exchangeRate: '1.0',
      convertedAmount: '-12.00',
      notes: 'first',
      actor: root.id,
    });
    const ledger = await root.get(`/v1/customers/${c.id}/balance-operations`).expect(200);
    // Newest first: the ledger's order is the request order, reversed.
    expect(ledger.body.items.slice(0, 4).map((e: { id: string }) => e.id)).toEqual(res.body.items.map((e: { id: string }) => e.id).reverse());
    const customer = await root.get(`/v1/customers/${c.id}`).expect(200);
    expect(customer.body.balance).toBe('-4.99999999');
    const after = await snapshot();
    expect(after.entries - before.entries).toBe(4);
    expect(after.events - before.events).toBe(4);
    const ids = res.body.items.map((e: { id: string }) => e.id);
    const events: Array<{ target_id: string; action: string; actor_id: string; balance_after: string; request_id: string | null }> = await t.dataSource.query(
      // Their changes are the entry's, rendered as the audit log renders them.
      `SELECT a.target_id, a.action, a.actor_id, (${balanceOperationChangesSql('a', 'l')})->'after'->>'balanceAfter' AS balance_after, a.request_id
         FROM audit_events a ${balanceOperationEntryJoin('a', 'l')}
        WHERE a.target_id = ANY ($1::text[]) ORDER BY array_position($1::text[], a.target_id)`,
      [ids],
    );
    expect(events.map((e) => [e.target_id, e.action, e.actor_id, e.balance_after])).toEqual([
      [ids[0], 'balance.debit', root.id, '-2.00'],
      [ids[1], 'balance.add_funds', root.id, '-1.90'],
      [ids[2], 'balance.debit', root.id, '-5.00'],
      [ids[3], 'balance.credit', root.id, '-4.99999999'],
    ]);
    expect(events.every((e) => e.request_id !== null && e.request_id === events[0].request_id)).toBe(true);
    await expectBalancesEqualLedgers();
  });

  it('mixes customers and accounts, converting each with the table of the party that bills it', async () => {
    const a = await createCustomer(t, root, { baseCurrency: 'EUR' });
    const account = await createAccount(root, a);
    await root.put('/v1/exchange-rates/EUR', { rate: '1.25' }).expect(200);
    await a.put('/v1/exchange-rates/USD', { rate: '0.5' }).expect(200);
    const res = await batch(root, [
      { customerId: a.id, action: 'add_funds', amount: '10', currency: 'USD' },
      { accountId: account.id, action: 'add_funds', amount: '10', currency: 'USD' },
      { accountId: account.id, action: 'debit', amount: '1' },
    ]).expect(201);
    // A is billed by root (1 USD = 0.8 EUR); A's account by A (1 USD = 0.5 EUR).
    expect(res.body.items[0]).toMatchObject({ currency: 'USD', exchangeRate: '0.8', convertedAmount: '8.00', balanceAfter: '8.00' });
    expect(res.body.items[1]).toMatchObject({ currency: 'USD', exchangeRate: '0.5', convertedAmount: '5.00', balanceAfter: '5.00' });
    expect(res.body.items[2]).toMatchObject({ currency: 'EUR', convertedAmount: '-1.00', balanceAfter: '4.00' });
    const acc = await root.get(`/v1/accounts/${account.id}`).expect(200);
    expect(acc.body.balance).toBe('4.00');
    await expectBalancesEqualLedgers();
  });

  it('writes nothing when any operation is refused, and lists every refused one with its pointer', async () => {
    const poor = await createCustomer(t, root, { balance: '2.00', creditLimit: '1' });
    const rich = await createCustomer(t, root, { balance: '100.00' });
    const eur = await createCustomer(t, root, { baseCurrency: 'EUR' });
    const other = await createCustomer(t, root);
    const elsewhere = await createCustomer(t, other); // below `other`, out of `rich`'s reach
    const below = await createCustomer(t, rich);
    const before = await snapshot();
    const res = await batch(rich, [
      { customerId: below.id, action: 'add_funds', amount: '5' }, // fine alone
      { customerId: rich.id, action: 'add_funds', amount: '1' }, // itself: 403
      { customerId: elsewhere.id, action: 'add_funds', amount: '1' }, // another subtree: 404
      { customerId: randomUUID(), action: 'add_funds', amount: '1' }, // nobody: 404
      { accountId: randomUUID(), action: 'debit', amount: '1' }, // no account: 404
    ]).expect(422);
    expectProblem(res, 422);
    expect(res.body).toMatchObject({ type: 'https://canopy.dev/problems/batch-refused', status: 422, instance: '/v1/balance-operations/batch' });
    expect(res.body.errors).toEqual([
      expect.objectContaining({ pointer: '/operations/1', type: 'https://canopy.dev/problems/not-a-descendant' }),
      expect.objectContaining({ pointer: '/operations/2', type: 'https://canopy.dev/problems/not-found', detail: 'The customer does not exist.' }),
      expect.objectContaining({ pointer: '/operations/3', type: 'https://canopy.dev/problems/not-found', detail: 'The customer does not exist.' }),
      expect.objectContaining({ pointer: '/operations/4', type: 'https://canopy.dev/problems/not-found', detail: 'The account does not exist.' }),
    ]);
    // A 404 for another subtree's customer is the same as for one that does not exist.
    const { pointer: p2, ...outOfReach } = res.body.errors[1];
    const { pointer: p3, ...missing } = res.body.errors[2];
    expect([p2, p3]).toEqual(['/operations/2', '/operations/3']);
    expect(outOfReach).toEqual(missing);

    const money = await batch(root, [
      { customerId: rich.id, action: 'debit', amount: '50' }, // fine
      { customerId: poor.id, action: 'debit', amount: '2.50' }, // fine: 2 + 1 covers it
      { customerId: poor.id, action: 'debit', amount: '0.60' }, // now only 0.50 is left
      { customerId: eur.id, action: 'add_funds', amount: '1', currency: 'GBP' }, // no GBP rate in root's table
      { customerId: rich.id, action: 'add_funds', amount: '9999999999999999999999.99999999' }, // fine
    ]);
    await root.put('/v1/exchange-rates/EUR', { rate: '1000000000' }).expect(200);
    const tooSmall = await batch(root, [{ customerId: eur.id, action: 'add_funds', amount: '0.00000001', currency: 'USD' }]).expect(422);
    expect(tooSmall.body.errors).toEqual([expect.objectContaining({ pointer: '/operations/0', type: 'https://canopy.dev/problems/amount-too-small' })]);
    expect(money.status).toBe(422);
    expect(money.body.errors).toEqual([
      expect.objectContaining({ pointer: '/operations/2', type: 'https://canopy.dev/problems/insufficient-funds', availableCredit: '0.50' }),
      expect.objectContaining({ pointer: '/operations/3', type: 'https://canopy.dev/problems/missing-exchange-rate', currency: 'GBP' }),
    ]);
    expect(money.body.detail).toBe('2 of 5 operations were refused; nothing was written.');
    // A balance leaving NUMERIC(38,8) (|x| < 10^30) is out of range: 10^8 adds of 10^22 would be; here
    // the target holds just under the limit already (an opening balance that large needs SQL).
    await t.dataSource.query(`UPDATE customer_balances SET balance = 999999999999999999999999999999 WHERE customer_id = $1`, [below.id]);
    const overflow = await batch(root, [
      { customerId: below.id, action: 'add_funds', amount: '0.5' },
      { customerId: below.id, action: 'add_funds', amount: '0.5' },
    ]).expect(422);
    expect(overflow.body.errors).toEqual([expect.objectContaining({ pointer: '/operations/1', type: 'https://canopy.dev/problems/amount-out-of-range' })]);
    await t.dataSource.query(`UPDATE customer_balances SET balance = 0 WHERE customer_id = $1`, [below.id]);

    const after = await snapshot();
    // Nothing of the refused batches was written.
    expect(after.entries).toBe(before.entries);
    expect(after.events).toBe(before.events);
    expect(after.customers).toBe(before.customers);
    expect(after.accounts).toBe(before.accounts);
    const poorNow = await root.get(`/v1/customers/${poor.id}`).expect(200);
    expect(poorNow.body.balance).toBe('2.00');
  });

  it('needs balances.operate for every operation (403 per item) and sees holders per item', async () => {
    const c = await createCustomer(t, root);
    const clerk = await restrictedActor(t, root, ['customers.update']);
    const before = await snapshot();
    const res = await batch(clerk, [
      { customerId: c.id, action: 'add_funds', amount: '1' },
      { customerId: randomUUID(), action: 'add_funds', amount: '1' },
    ]).expect(422);
    expect(res.body.errors).toEqual([
      expect.objectContaining({ pointer: '/operations/0', type: 'https://canopy.dev/problems/permission-denied', permission: 'balances.operate' }),
      expect.objectContaining({ pointer: '/operations/1', type: 'https://canopy.dev/problems/not-found' }),
    ]);
    expect(await snapshot()).toEqual(before);
  });

  it('replays the same batch under its key, refuses another body under it, and replays refusals too', async () => {
    const c = await createCustomer(t, root, { creditLimit: '1' });
    const key = randomUUID();
    const operations = [
      { customerId: c.id, action: 'add_funds', amount: '5' },
      { customerId: c.id, action: 'debit', amount: '2' },
    ];
    const first = await batch(root, operations, key).expect(201);
    const entries = (await snapshot()).entries;
    const again = await batch(root, operations, key).expect(201);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.body).toEqual(first.body);
    expect((await snapshot()).entries).toBe(entries);
    const other = await batch(root, [operations[0]], key).expect(422);
    expect(other.body.type).toBe('https://canopy.dev/problems/idempotency-key-reused');

    const refusedKey = randomUUID();
    const refused = await batch(root, [{ customerId: c.id, action: 'debit', amount: '100' }], refusedKey).expect(422);
    await batch(root, [{ customerId: c.id, action: 'add_funds', amount: '1000' }]).expect(201);
    const replayed = await batch(root, [{ customerId: c.id, action: 'debit', amount: '100' }], refusedKey).expect(422);
    expect(replayed.headers['idempotent-replayed']).toBe('true');
    expect(replayed.body).toEqual(refused.body);

    const concurrent = randomUUID();
    const answers = await Promise.all(Array.from({ length: 6 }, () => batch(root, [{ customerId: c.id, action: 'credit', amount: '1' }], concurrent)));
    const applied = answers.filter((r) => r.status === 201);
    expect(answers.every((r) => r.status === 201 || r.status === 409)).toBe(true);
    expect(new Set(applied.map((r) => r.body.items[0].id)).size).toBe(1);
    const credits = await root.get(`/v1/customers/${c.id}/balance-operations?action=credit`).expect(200);
    expect(credits.body.items).toHaveLength(1);
  });

  it('validates the whole batch first: limits, targets and fields, with pointers', async () => {
    const c = await createCustomer(t, root);
    const missingKey = await root.post('/v1/balance-operations/batch', { operations: [{ customerId: c.id, action: 'credit', amount: '1' }] }).expect(400);
    expect(missingKey.body.errors).toEqual([{ parameter: 'Idempotency-Key', detail: expect.stringContaining('required') }]);
    const empty = await batch(root, []).expect(400);
    expectProblem(empty, 400);
    expect(empty.body.errors).toEqual([{ pointer: '/operations', detail: expect.stringContaining('at least 1') }]);
    const tooMany = await batch(root, Array.from({ length: 1001 }, () => ({ customerId: c.id, action: 'credit', amount: '1' }))).expect(400);
    expect(tooMany.body.errors).toEqual([{ pointer: '/operations', detail: expect.stringContaining('at most 1000') }]);
    const notArray = await batch(root, { customerId: c.id }).expect(400);
    expect(notArray.body.errors.map((e: { pointer: string }) => e.pointer)).toContain('/operations');
    const cases: Array<[Operation, string]> = [
      [{ customerId: c.id, action: 'credit', amount: 1 }, '/operations/1/amount'],
      [{ customerId: c.id, action: 'credit', amount: '1.123456789' }, '/operations/1/amount'],
      [{ customerId: c.id, action: 'credit', amount: '0' }, '/operations/1/amount'],
      [{ customerId: c.id, action: 'refund', amount: '1' }, '/operations/1/action'],
      [{ customerId: c.id, action: 'credit', amount: '1', currency: 'XYZ' }, '/operations/1/currency'],
      [{ customerId: 'not-a-uuid', action: 'credit', amount: '1' }, '/operations/1/customerId'],
      [{ customerId: c.id, accountId: randomUUID(), action: 'credit', amount: '1' }, '/operations/1'],
      [{ action: 'credit', amount: '1' }, '/operations/1'],
      [{ customerId: c.id, action: 'credit', amount: '1', allowOverdraft: true }, '/operations/1/allowOverdraft'],
      [{ customerId: c.id, action: 'credit', amount: '1', externalReference: '' }, '/operations/1/externalReference'],
      [{ customerId: c.id, action: 'credit', amount: '1', metadata: { a: 1 } }, '/operations/1/metadata'],
      [{ customerId: c.id, action: 'credit', amount: '1', balance: '5' }, '/operations/1/balance'],
    ];
    const before = await snapshot();
    for (const [operation, pointer] of cases) {
      const res = await batch(root, [{ customerId: c.id, action: 'credit', amount: '1' }, operation]).expect(400);
      expectProblem(res, 400);
      expect(res.body.errors.map((e: { pointer: string }) => e.pointer)).toContain(pointer);
    }
    expect(await snapshot()).toEqual(before);
  });

  it('takes a 1,000-operation body with long notes (no 413)', async () => {
    const c = await createCustomer(t, root);
    const notes = 'é'.repeat(1024);
    const res = await batch(root, Array.from({ length: 1000 }, () => ({ customerId: c.id, action: 'add_funds', amount: '0.01', notes }))).expect(201);
    expect(res.body.items).toHaveLength(1000);
    expect(res.body.items[999].balanceAfter).toBe('10.00');
  });

  it('runs concurrent batches on overlapping holders without deadlocks, each balance the sum of its entries', async () => {
    const customers: Actor[] = [];
    for (let i = 0; i < 6; i++) customers.push(await createCustomer(t, root, { creditLimit: '3' }));
    const accounts: Array<{ id: string }> = [];
    for (const c of customers.slice(0, 3)) accounts.push(await createAccount(root, c, { creditLimit: '2' }));
    const targets: Operation[] = [...customers.map((c) => ({ customerId: c.id })), ...accounts.map((a) => ({ accountId: a.id }))];
    // Each batch touches the targets in its own order, several times.
    const batches: Operation[][] = Array.from({ length: 16 }, (_, i) =>
      Array.from({ length: 20 }, (_, j) => ({
        ...targets[(i * 7 + j * (i % 2 ? 3 : 5)) % targets.length],
        action: (i + j) % 3 === 0 ? 'add_funds' : 'debit',
        amount: (i + j) % 3 === 0 ? '0.50' : '0.25',
      })),
    );
    const results = await Promise.all(batches.map((ops) => batch(root, ops)));
    for (const r of results) expect([201, 422]).toContain(r.status);
    expect(results.some((r) => r.status === 201)).toBe(true);
    await expectBalancesEqualLedgers();
    // No debit without allowOverdraft took a holder below -creditLimit.
    const below = await t.dataSource.query(
      `SELECT c.id FROM customers c JOIN customer_balances b ON b.customer_id = c.id WHERE b.balance < -c.credit_limit
       UNION ALL SELECT a.id FROM accounts a JOIN account_balances b ON b.account_id = a.id WHERE b.balance < -a.credit_limit`,
    );
    expect(below).toEqual([]);
    // Within an accepted batch, the entries on one holder follow one another.
    results.forEach((r, i) => {
      if (r.status !== 201) return;
      const last = new Map<string, Big>();
      r.body.items.forEach((item: { balanceAfter: string; convertedAmount: string }, j: number) => {
        const target = JSON.stringify(batches[i][j].customerId ?? batches[i][j].accountId);
        const before = new Big(item.balanceAfter).minus(item.convertedAmount);
        if (last.has(target)) expect(before.eq(last.get(target)!)).toBe(true);
        last.set(target, new Big(item.balanceAfter));
      });
    });
  });

  it('matches a model of all-or-none batches (property): refused items exactly as predicted, or every balanceAfter as predicted', async () => {
    const c1 = await createCustomer(t, root, { creditLimit: '5' });
    const c2 = await createCustomer(t, root, { balance: '3' });
    const account = await createAccount(root, c1, { creditLimit: '2.5' });
    const holders = [
      { target: { customerId: c1.id }, balance: new Big(0), limit: new Big(5) },
      { target: { customerId: c2.id }, balance: new Big(3), limit: new Big(0) },
      { target: { accountId: account.id }, balance: new Big(0), limit: new Big('2.5') },
    ];
    const amountArb = fc
      .tuple(fc.integer({ min: 0, max: 6 }), fc.integer({ min: 0, max: 99 }))
      .map(([whole, cents]) => `${whole}.${String(cents).padStart(2, '0')}`)
      .filter((a) => new Big(a).gt(0));
    const opArb = fc.record({
      holder: fc.integer({ min: 0, max: 2 }),
      action: fc.constantFrom('add_funds', 'credit', 'debit', 'debit'),
      amount: amountArb,
      overdraft: fc.boolean(),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 12 }), async (ops) => {
        const balances = holders.map((h) => h.balance);
        const refusedAt: number[] = [];
        const expectedAfter: string[] = [];
        for (const [i, op] of ops.entries()) {
          const delta = op.action === 'debit' ? new Big(op.amount).neg() : new Big(op.amount);
          const after = balances[op.holder].plus(delta);
          if (op.action === 'debit' && !op.overdraft && after.plus(holders[op.holder].limit).lt(0)) {
            refusedAt.push(i);
            continue;
          }
          balances[op.holder] = after;
          expectedAfter.push(after.toFixed(2));
        }
        const res = await batch(
          root,
          ops.map((op) => ({
            ...holders[op.holder].target,
            action: op.action,
            amount: op.amount,
            ...(op.action === 'debit' && op.overdraft ? { allowOverdraft: true } : {}),
          })),
        );
        if (refusedAt.length) {
          expect(res.status).toBe(422);
          expect(res.body.errors.map((e: { pointer: string; type: string }) => [e.pointer, e.type])).toEqual(
            refusedAt.map((i) => [`/operations/${i}`, 'https://canopy.dev/problems/insufficient-funds']),
          );
        } else {
          expect(res.status).toBe(201);
          expect(res.body.items.map((e: { balanceAfter: string }) => e.balanceAfter)).toEqual(expectedAfter);
          holders.forEach((h, k) => (h.balance = balances[k]));
        }
        const now = await Promise.all([
          root.get(`/v1/customers/${c1.id}`),
          root.get(`/v1/customers/${c2.id}`),
          root.get(`/v1/accounts/${account.id}`),
        ]);
        expect(now.map((r) => r.body.balance)).toEqual(holders.map((h) => h.balance.toFixed(2)));
      }),
      { numRuns: 25 },
    );
    await expectBalancesEqualLedgers();
  });
});
