import Big from 'big.js';
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { Actor, createAccount, createCustomer, expectProblem, loginRoot } from './setup/factories';
import { startSecondInstance, SecondInstance, startTestApp, TestApp } from './setup/test-app';

const METRICS_TOKEN = 'group-commit-metrics-token';

/**
 * Group commit (README, "Group commit"): concurrent balance operations written together in
 * one transaction, each with its own key, refusal, answer and audit event. A long window and
 * one group at a time make the requests of each test meet in groups; nothing here is timed.
 */
describe('group commit of balance operations', () => {
  let t: TestApp;
  let root: Actor;

  beforeAll(async () => {
    t = await startTestApp({
      GROUP_COMMIT_WINDOW_MS: '500',
      GROUP_COMMIT_MAX: '100',
      GROUP_COMMIT_GROUPS_IN_FLIGHT: '1',
      METRICS_TOKEN,
    });
    root = await loginRoot(t);
  });
  afterAll(() => t.close());

  const op = (customerId: string, body: object, key: string = randomUUID(), app: TestApp | SecondInstance = t) =>
    app.http().post(`/v1/customers/${customerId}/balance-operations`).set('authorization', `Bearer ${root.token}`).set('Idempotency-Key', key).send(body);

  /**
   * Postings written in groups (of two or more) so far: in all (`committed`: by the group's one
   * statement or by its transaction; `groups`: how many such writes), by the one statement alone
   * (`oneStatement`), by the transaction alone (`transaction`), and retried alone after a failed group.
   */
  async function grouped(app: TestApp | SecondInstance = t): Promise<{ committed: number; groups: number; oneStatement: number; transaction: number; retried: number }> {
    const text = (await app.http().get('/metrics').set('authorization', `Bearer ${METRICS_TOKEN}`).expect(200)).text;
    const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
    const oneStatement = value('canopy_group_commit_size_sum\\{outcome="one-statement"\\}');
    const transaction = value('canopy_group_commit_size_sum\\{outcome="committed"\\}');
    return {
      committed: oneStatement + transaction,
      groups: value('canopy_group_commit_size_count\\{outcome="one-statement"\\}') + value('canopy_group_commit_size_count\\{outcome="committed"\\}'),
      oneStatement,
      transaction,
      retried: value('canopy_group_commit_size_sum\\{outcome="retried"\\}'),
    };
  }

  async function ledgerSum(customerId: string): Promise<{ balance: string; sum: string; entries: number }> {
    const [row] = await t.dataSource.query(
      `SELECT b.balance::text AS balance, COALESCE(sum(e.converted_amount), 0)::text AS sum, count(e.id)::int AS entries
         FROM customer_balances b LEFT JOIN ledger_entries e ON e.customer_id = b.customer_id WHERE b.customer_id = $1 GROUP BY b.balance`,
      [customerId],
    );
    return row;
  }

  it('lets exactly as many concurrent debits on one hot customer through as the credit covers, written in groups', async () => {
    const before = await grouped();
    const c = await createCustomer(t, root, { balance: '10.00', creditLimit: '15.00' });
    const results = await Promise.all(Array.from({ length: 40 }, () => op(c.id, { action: 'debit', amount: '1.00' })));
    const ok = results.filter((r) => r.status === 201);
    const refused = results.filter((r) => r.status === 422);
    expect(ok).toHaveLength(25);
    expect(refused).toHaveLength(15);
    for (const r of refused) {
      expectProblem(r, 422);
      expect(r.body).toMatchObject({ type: 'https://canopy.dev/problems/insufficient-funds', availableCredit: '0.00' });
    }
    // Each applied debit saw the balance its predecessor left: 9, 8, … −15, each once.
    expect(ok.map((r) => r.body.balanceAfter).sort((a, b) => Number(b) - Number(a))).toEqual(
      Array.from({ length: 25 }, (_, i) => formatted(9 - i)),
    );
    const sums = await ledgerSum(c.id);
    expect(sums).toMatchObject({ balance: '-15.00000000', entries: 26 });
    expect(new Big(sums.sum).toFixed(8)).toBe('-15.00000000');
    // Groups of two or more were committed (a group of one goes alone and is not counted there).
    const after = await grouped();
    expect(after.committed - before.committed).toBeGreaterThanOrEqual(2);
    expect(after.committed - before.committed).toBeGreaterThan(after.groups - before.groups);
  });

  it('applies a key sent twice into one group once: the other answer replays it (or is a 409), never a second entry', async () => {
    const c = await createCustomer(t, root);
    const key = randomUUID();
    const body = { action: 'add_funds', amount: '3.50' };
    const results = await Promise.all([
      op(c.id, body, key),
      ...Array.from({ length: 6 }, () => op(c.id, { action: 'add_funds', amount: '1.00' })),
      op(c.id, body, key),
    ]);
    const twins = [results[0], results[7]];
    const applied = twins.filter((r) => r.status === 201 && r.headers['idempotent-replayed'] !== 'true');
    expect(applied).toHaveLength(1);
    const other = twins.find((r) => r !== applied[0])!;
    if (other.status === 201) {
      expect(other.headers['idempotent-replayed']).toBe('true');
      expect(other.body).toEqual(applied[0].body);
    } else {
      expectProblem(other, 409);
    }
    for (const r of results.slice(1, 7)) expect(r.status).toBe(201);
    const [{ count }] = await t.dataSource.query(`SELECT count(*)::int AS count FROM ledger_entries WHERE idempotency_key = $1`, [key]);
    expect(count).toBe(1);
    expect(await ledgerSum(c.id)).toMatchObject({ balance: '9.50000000', entries: 7 });
  });

  it('answers each operation of a mixed group on its own: applied, refused for credit, not found; each replays as answered', async () => {
    const c = await createCustomer(t, root, { creditLimit: '30' });
    const sent = [
      ...Array.from({ length: 6 }, () => ({ customerId: c.id, body: { action: 'debit', amount: '10' }, key: randomUUID() })),
      { customerId: randomUUID(), body: { action: 'add_funds', amount: '1' }, key: randomUUID() },
      { customerId: c.id, body: { action: 'credit', amount: '0.01', notes: 'in the same group' }, key: randomUUID() },
    ];
    const results = await Promise.all(sent.map((s) => op(s.customerId, s.body, s.key)));
    const debits = results.slice(0, 6);
    // The credit may land before or after debits: 3 debits fit 30 (+0.01) either way.
    expect(debits.filter((r) => r.status === 201)).toHaveLength(3);
    for (const r of debits.filter((r) => r.status !== 201)) {
      expectProblem(r, 422);
      expect(r.body.type).toBe('https://canopy.dev/problems/insufficient-funds');
      expect(['0.00', '0.01']).toContain(r.body.availableCredit);
    }
    expectProblem(results[6], 404);
    expect(results[7].status).toBe(201);
    expect(results[7].body).toMatchObject({ action: 'credit', amount: '0.01', notes: 'in the same group' });
    // Every key answers again exactly as it did, marked as a replay.
    const again = await Promise.all(sent.map((s) => op(s.customerId, s.body, s.key)));
    for (const [i, r] of again.entries()) {
      expect(r.status).toBe(results[i].status);
      expect(r.body).toEqual(results[i].body);
      expect(r.headers['idempotent-replayed']).toBe('true');
    }
    const sums = await ledgerSum(c.id);
    expect(sums).toMatchObject({ balance: '-29.99000000', entries: 4 });
  });

  it('writes each audit event of a group with its own request’s id', async () => {
    const before = await grouped();
    const c = await createCustomer(t, root);
    const ids = Array.from({ length: 8 }, () => randomUUID());
    const results = await Promise.all(ids.map((id) => op(c.id, { action: 'add_funds', amount: '2' }).set('x-request-id', id)));
    for (const [i, r] of results.entries()) {
      expect(r.status).toBe(201);
      expect(r.headers['x-request-id']).toBe(ids[i]);
      const events = await root.get(`/v1/audit-events?targetType=balance-operation&targetId=${r.body.id}`).expect(200);
      expect(events.body.items).toHaveLength(1);
      expect(events.body.items[0]).toMatchObject({ action: 'balance.add_funds', actor: root.id, requestId: ids[i] });
    }
    expect((await grouped()).committed - before.committed).toBeGreaterThanOrEqual(2);
  });

  it('writes a group of fresh operations on several holders as ONE statement: each its own entry, answer, key and audit event', async () => {
    const before = await grouped();
    const customers = await Promise.all(Array.from({ length: 3 }, () => createCustomer(t, root, { creditLimit: '100' })));
    const sent = customers.flatMap((c) => [
      { c, body: { action: 'add_funds', amount: '5.00' }, key: randomUUID(), requestId: randomUUID() },
      { c, body: { action: 'debit', amount: '2.50', notes: 'second' }, key: randomUUID(), requestId: randomUUID() },
    ]);
    const results = await Promise.all(sent.map((s) => op(s.c.id, s.body, s.key).set('x-request-id', s.requestId)));
    for (const r of results) expect(r.status).toBe(201);
    const after = await grouped();
    // Nothing of this group needed the transaction (nor was retried): the one statement wrote it.
    expect(after.oneStatement - before.oneStatement).toBeGreaterThanOrEqual(2);
    expect(after.transaction - before.transaction).toBe(0);
    expect(after.retried - before.retried).toBe(0);
    for (const [i, c] of customers.entries()) {
      const [credit, debit] = [results[2 * i].body, results[2 * i + 1].body];
      expect(credit).toMatchObject({ action: 'add_funds', amount: '5.00', convertedAmount: '5.00', actor: root.id, notes: null });
      expect(debit).toMatchObject({ action: 'debit', amount: '2.50', convertedAmount: '-2.50', notes: 'second' });
      // In the order they arrived: either one first, each balanceAfter following the other.
      expect([`${credit.balanceAfter} ${debit.balanceAfter}`]).toContainEqual(expect.stringMatching(/^(5\.00 2\.50|2\.50 -2\.50)$/));
      expect(await ledgerSum(c.id)).toMatchObject({ balance: '2.50000000', sum: '2.50000000', entries: 2 });
    }
    // Each key answers again as it did (its own fingerprint: the same body replays, another is refused).
    for (const [i, s] of sent.entries()) {
      const again = await op(s.c.id, s.body, s.key);
      expect(again.status).toBe(201);
      expect(again.headers['idempotent-replayed']).toBe('true');
      expect(again.body).toEqual(results[i].body);
      expectProblem(await op(s.c.id, { action: 'add_funds', amount: '9.99' }, s.key), 422);
      const events = await root.get(`/v1/audit-events?targetType=balance-operation&targetId=${results[i].body.id}`).expect(200);
      expect(events.body.items).toHaveLength(1);
      expect(events.body.items[0]).toMatchObject({ action: `balance.${s.body.action}`, actor: root.id, requestId: s.requestId });
    }
  });

  it('writes customers and accounts of one group by the one statement; an account that does not exist is the transaction’s 404', async () => {
    const r = await createCustomer(t, root);
    const account = await createAccount(root, r);
    const before = await grouped();
    const post = (path: string, body: object) =>
      t.http().post(path).set('authorization', `Bearer ${root.token}`).set('Idempotency-Key', randomUUID()).send(body);
    const results = await Promise.all([
      post(`/v1/customers/${r.id}/balance-operations`, { action: 'add_funds', amount: '2.00' }),
      post(`/v1/accounts/${account.id}/balance-operations`, { action: 'add_funds', amount: '3.00' }),
      post(`/v1/accounts/${account.id}/balance-operations`, { action: 'add_funds', amount: '4.00' }),
      post(`/v1/accounts/${randomUUID()}/balance-operations`, { action: 'add_funds', amount: '1.00' }),
    ]);
    const after = await grouped();
    expect(results.slice(0, 3).map((x) => x.status)).toEqual([201, 201, 201]);
    expect(results[0].body).toMatchObject({ balanceAfter: '2.00', actor: root.id });
    // The account's two in the order they arrived, each balanceAfter following the other.
    expect(['3.00 7.00', '7.00 4.00']).toContain(`${results[1].body.balanceAfter} ${results[2].body.balanceAfter}`);
    expectProblem(results[3], 404);
    expect(after.oneStatement - before.oneStatement).toBe(3);
    const [row] = await t.dataSource.query(
      `SELECT b.balance::text AS balance, (SELECT sum(e.converted_amount)::text FROM ledger_entries e WHERE e.account_id = b.account_id) AS sum
         FROM account_balances b WHERE b.account_id = $1`,
      [account.id],
    );
    expect(row).toEqual({ balance: '7.00000000', sum: '7.00000000' });
  });

  it('checks the reach of every caller of a holder: a second caller out of reach is the transaction’s 404, never written by the one statement', async () => {
    const r = await createCustomer(t, root);
    const c = await createCustomer(t, r);
    const s = await createCustomer(t, root); // r's sibling: c is beside it, not below
    const own = await createCustomer(t, s);
    // s may operate on balances (on its own sub-customer): only its reach keeps it from c.
    const post = (caller: Actor, id: string) =>
      t.http().post(`/v1/customers/${id}/balance-operations`).set('authorization', `Bearer ${caller.token}`).set('Idempotency-Key', randomUUID()).send({ action: 'add_funds', amount: '1.00' });
    expect((await post(s, own.id)).status).toBe(201);
    const before = await grouped();
    const [byRoot, byS] = await Promise.all([post(root, c.id), post(s, c.id)]);
    const after = await grouped();
    expect(byRoot.status).toBe(201);
    expectProblem(byS, 404);
    expect(after.oneStatement - before.oneStatement).toBe(1);
    expect(await ledgerSum(c.id)).toMatchObject({ balance: '1.00000000', entries: 1 });
  });

  it('leaves to the transaction the holders the one statement cannot decide: a refusal, a known key; the other holders are written by the statement', async () => {
    const a = await createCustomer(t, root);
    const b = await createCustomer(t, root, { creditLimit: '5' });
    const c = await createCustomer(t, root);
    const known = randomUUID();
    const first = await op(c.id, { action: 'add_funds', amount: '1.00' }, known);
    expect(first.status).toBe(201);
    const before = await grouped();
    const results = await Promise.all([
      op(a.id, { action: 'add_funds', amount: '1.00' }),
      op(a.id, { action: 'add_funds', amount: '2.00' }),
      op(a.id, { action: 'add_funds', amount: '3.00' }),
      // b: two debits of 4 fit no credit of 5 together: decided one by one under the lock.
      op(b.id, { action: 'debit', amount: '4.00' }),
      op(b.id, { action: 'debit', amount: '4.00' }),
      // c: a replay of a known key beside a fresh one: neither is written by the statement.
      op(c.id, { action: 'add_funds', amount: '1.00' }, known),
      op(c.id, { action: 'add_funds', amount: '7.00' }),
    ]);
    const after = await grouped();
    for (const r of results.slice(0, 3)) expect(r.status).toBe(201);
    expect(results.slice(3, 5).map((r) => r.status).sort()).toEqual([201, 422]);
    const refusal = results.slice(3, 5).find((r) => r.status === 422)!;
    expectProblem(refusal, 422);
    expect(refusal.body).toMatchObject({ type: 'https://canopy.dev/problems/insufficient-funds', availableCredit: '1.00' });
    expect(results[5].status).toBe(201);
    expect(results[5].headers['idempotent-replayed']).toBe('true');
    expect(results[5].body).toEqual(first.body);
    expect(results[6].status).toBe(201);
    expect(results[6].headers['idempotent-replayed']).toBeUndefined();
    // a's three by the one statement; b's and c's by the group's transaction (or alone: the replay).
    expect(after.oneStatement - before.oneStatement).toBe(3);
    expect(after.transaction - before.transaction).toBeGreaterThanOrEqual(2);
    expect(await ledgerSum(a.id)).toMatchObject({ balance: '6.00000000', entries: 3 });
    expect(await ledgerSum(b.id)).toMatchObject({ balance: '-4.00000000', entries: 1 });
    expect(await ledgerSum(c.id)).toMatchObject({ balance: '8.00000000', entries: 2 });
  });

  it('retries every operation of a failed group alone: a key held by another transaction fails none of the others', async () => {
    const before = await grouped();
    const c = await createCustomer(t, root);
    // The held key's request posts to a holder of its own: alone, it waits for the key with that row locked.
    const e = await createCustomer(t, root);
    const held = randomUUID();
    // Another instance's uncommitted claim of one key: the group's claim cannot take it in time.
    const other = new Client({ connectionString: t.config.DATABASE_URL });
    await other.connect();
    try {
      await other.query('BEGIN');
      await other.query(`INSERT INTO idempotency_keys (caller_id, key, fingerprint, expires_at) VALUES ($1, $2, 'elsewhere', now() + interval '1 day')`, [
        root.id,
        held,
      ]);
      const heldRequest = op(e.id, { action: 'add_funds', amount: '5' }, held);
      const waitingForHeld = heldRequest.then((r) => r);
      const innocents = await Promise.all(Array.from({ length: 7 }, () => op(c.id, { action: 'add_funds', amount: '1' })));
      for (const r of innocents) expect(r.status).toBe(201);
      expect((await grouped()).retried - before.retried).toBeGreaterThanOrEqual(2);
      // The other transaction gives up its claim: the held request is then applied, once.
      await other.query('ROLLBACK');
      const r = await waitingForHeld;
      expect(r.status).toBe(201);
    } finally {
      await other.end();
    }
    expect(await ledgerSum(c.id)).toMatchObject({ balance: '7.00000000', entries: 7 });
    expect(await ledgerSum(e.id)).toMatchObject({ balance: '5.00000000', entries: 1 });
  });

  it('keeps the money right with two instances posting at once on the same holders', async () => {
    const b = await startSecondInstance(t);
    try {
      const c = await createCustomer(t, root, { balance: '10.00', creditLimit: '15.00' });
      const d = await createCustomer(t, root, { creditLimit: '5.00' });
      const key = randomUUID();
      const results = await Promise.all([
        ...Array.from({ length: 40 }, (_, i) => op(c.id, { action: 'debit', amount: '1.00' }, randomUUID(), i % 2 ? b : t)),
        ...Array.from({ length: 10 }, (_, i) => op(d.id, { action: 'debit', amount: '1.00' }, randomUUID(), i % 2 ? t : b)),
        op(d.id, { action: 'add_funds', amount: '2.00' }, key, t),
        op(d.id, { action: 'add_funds', amount: '2.00' }, key, b),
      ]);
      expect(results.slice(0, 40).filter((r) => r.status === 201)).toHaveLength(25);
      expect(results.slice(0, 40).filter((r) => r.status === 422)).toHaveLength(15);
      const dDebits = results.slice(40, 50);
      expect(dDebits.filter((r) => r.status === 201).length).toBeGreaterThanOrEqual(5);
      expect(dDebits.filter((r) => r.status === 201).length).toBeLessThanOrEqual(7);
      for (const r of dDebits.filter((r) => r.status !== 201)) expectProblem(r, 422);
      const twins = results.slice(50);
      expect(twins.filter((r) => r.status === 201 && r.headers['idempotent-replayed'] !== 'true')).toHaveLength(1);
      for (const r of twins) expect([201, 409]).toContain(r.status);
      for (const id of [c.id, d.id]) {
        const sums = await ledgerSum(id);
        expect(new Big(sums.balance).eq(sums.sum)).toBe(true);
      }
      expect((await ledgerSum(c.id)).balance).toBe('-15.00000000');
      const dBalance = new Big((await ledgerSum(d.id)).balance);
      expect(dBalance.gte(-5)).toBe(true);
      expect((await grouped(b)).committed).toBeGreaterThanOrEqual(2);
    } finally {
      await b.close();
    }
  });
});

const formatted = (n: number) => (n < 0 ? `-${Math.abs(n)}.00` : `${n}.00`);


