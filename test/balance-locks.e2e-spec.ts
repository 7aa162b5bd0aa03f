import { randomUUID } from 'node:crypto';
import { Actor, createAccount, createCustomer, expectProblem, loginRoot } from './setup/factories';
import { startTestApp, TestApp } from './setup/test-app';

/**
 * Balances live in rows of their own (migration 1764600000000-BalanceRows), which also carry
 * copies of what else a posting decides on and can change (credit limit, deletion), written by
 * a trigger in the transaction that changes the holder; a posting locks only the balance row. A
 * change of the holder (its credit limit, its deletion) locks the holder and its balance row
 * FOR UPDATE first, as CustomersService.update/remove and AccountsService do, so a posting that
 * arrives meanwhile waits for the change and then decides on the changed row: a debit the old
 * credit limit allowed is refused once the limit is lowered, and a deleted account is not found.
 * The change in progress is held here in SQL (the API cannot be paused mid-transaction); the
 * postings go through HTTP, on each path a posting can take.
 */
describe('a posting waits for a change of its holder in progress, and decides on the changed holder', () => {
  let t: TestApp;
  let root: Actor;

  beforeAll(async () => {
    t = await startTestApp();
    root = await loginRoot(t);
  });
  afterAll(() => t.close());

  /** Sessions of this database waiting for a row lock (the posting, once it has reached the changed holder). */
  async function waitingForLock(): Promise<number> {
    const [row] = await t.dataSource.query(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
    );
    return row.n;
  }

  /**
   * Runs `change` in a transaction left open, sends `request`, checks that it waits for a lock
   * (it must not decide on the row as it was before the change), then commits the change and
   * returns the request's answer.
   */
  async function duringChange<T>(change: Array<[string, unknown[]]>, request: () => Promise<T>): Promise<T> {
    const runner = t.dataSource.createQueryRunner();
    await runner.connect();
    try {
      await runner.startTransaction();
      for (const [sql, params] of change) await runner.query(sql, params);
      const answer = (async () => await request())(); // sent now (a supertest request starts when awaited)
      let waited = false;
      for (let i = 0; i < 200 && !waited; i++) {
        waited = (await waitingForLock()) > 0;
        if (!waited) await new Promise((resolve) => setTimeout(resolve, 25));
      }
      await runner.commitTransaction();
      expect(waited).toBe(true);
      return await answer;
    } finally {
      if (runner.isTransactionActive) await runner.rollbackTransaction();
      await runner.release();
    }
  }

  /** What CustomersService.update does before it writes: the customer and its balance row, FOR UPDATE; then the new credit limit. */
  const lowerCustomerLimit = (id: string): Array<[string, unknown[]]> => [
    [`SELECT 1 FROM customers c JOIN customer_balances cb ON cb.customer_id = c.id WHERE c.id = $1 FOR UPDATE`, [id]],
    [`UPDATE customers SET credit_limit = 0, version = version + 1, updated_at = now() WHERE id = $1`, [id]],
  ];
  const lockAccount = (id: string): [string, unknown[]] => [`SELECT 1 FROM accounts a JOIN account_balances ab ON ab.account_id = a.id WHERE a.id = $1 FOR UPDATE OF a, ab`, [id]];

  const debit = (path: string, amount: string) =>
    root.post(`${path}/balance-operations`, { action: 'debit', amount }).set('Idempotency-Key', randomUUID());

  it('a single debit on a customer whose credit limit is being lowered is refused under the new limit', async () => {
    const c = await createCustomer(t, root, { creditLimit: '100.00' });
    const res = await duringChange(lowerCustomerLimit(c.id), () => debit(`/v1/customers/${c.id}`, '50.00'));
    expectProblem(res, 422);
    expect(res.body).toMatchObject({ type: 'https://canopy.dev/problems/insufficient-funds', availableCredit: '0.00' });
    const now = await root.get(`/v1/customers/${c.id}`).expect(200);
    expect(now.body).toMatchObject({ balance: '0.00', creditLimit: '0.00' });
  });

  it('a batch debiting such a customer is refused as a whole under the new limit', async () => {
    const c = await createCustomer(t, root, { creditLimit: '100.00' });
    const other = await createCustomer(t, root);
    const res = await duringChange(lowerCustomerLimit(c.id), () =>
      root
        .post('/v1/balance-operations/batch', {
          operations: [
            { customerId: other.id, action: 'add_funds', amount: '5.00' },
            { customerId: c.id, action: 'debit', amount: '50.00' },
          ],
        })
        .set('Idempotency-Key', randomUUID()),
    );
    expectProblem(res, 422);
    expect(res.body.errors).toEqual([expect.objectContaining({ pointer: '/operations/1', type: 'https://canopy.dev/problems/insufficient-funds', availableCredit: '0.00' })]);
    expect((await root.get(`/v1/customers/${other.id}`).expect(200)).body.balance).toBe('0.00');
  });

  it('a debit on an account whose credit limit is being lowered is refused under the new limit', async () => {
    const c = await createCustomer(t, root);
    const account = await createAccount(root, c, { creditLimit: '100.00' });
    const res = await duringChange(
      [lockAccount(account.id), [`UPDATE accounts SET credit_limit = 0, version = version + 1 WHERE id = $1`, [account.id]]],
      () => debit(`/v1/accounts/${account.id}`, '50.00'),
    );
    expectProblem(res, 422);
    expect(res.body).toMatchObject({ type: 'https://canopy.dev/problems/insufficient-funds', availableCredit: '0.00' });
    expect((await root.get(`/v1/accounts/${account.id}`).expect(200)).body).toMatchObject({ balance: '0.00', creditLimit: '0.00' });
  });

  it('a credit on an account being deleted finds no account, and writes nothing', async () => {
    const c = await createCustomer(t, root);
    const account = await createAccount(root, c);
    const res = await duringChange(
      [lockAccount(account.id), [`UPDATE accounts SET deleted_at = now(), version = version + 1 WHERE id = $1`, [account.id]]],
      () => root.post(`/v1/accounts/${account.id}/balance-operations`, { action: 'credit', amount: '5.00' }).set('Idempotency-Key', randomUUID()),
    );
    expectProblem(res, 404);
    const [entries] = await t.dataSource.query(`SELECT count(*)::int AS n FROM ledger_entries WHERE account_id = $1`, [account.id]);
    expect(entries.n).toBe(0);
    const [row] = await t.dataSource.query(`SELECT balance::text AS balance FROM account_balances WHERE account_id = $1`, [account.id]);
    expect(row.balance).toBe('0.00000000');
  });
});
