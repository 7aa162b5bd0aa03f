import { randomUUID } from 'node:crypto';
import { Actor, createCustomer, expectProblem, loginRoot } from './setup/factories';
import { startTestApp, TestApp } from './setup/test-app';

/**
 * Batches of balance operations are written BATCHES_IN_FLIGHT at a time per instance; the others
 * wait their turn, at most DB_POOL_TIMEOUT_MS, and are then a 503 overloaded (nothing written, the
 * same key retried later applies the batch). A batch in flight is held here on a balance row
 * another session keeps locked.
 */
describe.each([
  { slots: 1, secondWaits: true },
  { slots: 2, secondWaits: false },
])('batches in flight: BATCHES_IN_FLIGHT=$slots', ({ slots, secondWaits }) => {
  let t: TestApp;
  let root: Actor;

  beforeAll(async () => {
    t = await startTestApp({ BATCHES_IN_FLIGHT: String(slots), DB_POOL_TIMEOUT_MS: '500' });
    root = await loginRoot(t);
  });
  afterAll(() => t.close());

  const batch = (customerId: string, key: string) =>
    root.post('/v1/balance-operations/batch', { operations: [{ customerId, action: 'add_funds', amount: '1' }] }).set('Idempotency-Key', key);

  async function waitingForLock(): Promise<number> {
    const [row] = await t.dataSource.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`);
    return row.n;
  }

  it(secondWaits ? 'a second batch waits its turn, and past the bound is a 503 overloaded that writes nothing' : 'a second batch runs beside one in flight', async () => {
    const held = await createCustomer(t, root, { balance: '1' });
    const other = await createCustomer(t, root, { balance: '1' });
    const runner = t.dataSource.createQueryRunner();
    await runner.connect();
    let first: Promise<{ status: number }>;
    try {
      await runner.startTransaction();
      await runner.query(`SELECT 1 FROM customer_balances WHERE customer_id = $1 FOR UPDATE`, [held.id]);
      const firstKey = randomUUID();
      first = (async () => await batch(held.id, firstKey))();
      for (let i = 0; i < 200 && (await waitingForLock()) === 0; i++) await new Promise((resolve) => setTimeout(resolve, 25));
      expect(await waitingForLock()).toBe(1); // the first batch, in flight, waits for the row

      const secondKey = randomUUID();
      const second = await batch(other.id, secondKey);
      if (secondWaits) {
        expectProblem(second, 503);
        expect(second.body).toMatchObject({ type: 'https://canopy.dev/problems/overloaded', title: 'Service overloaded' });
        expect(second.headers['retry-after']).toBe('1');
        const [{ n }] = await t.dataSource.query(`SELECT count(*)::int AS n FROM ledger_entries WHERE customer_id = $1`, [other.id]);
        expect(n).toBe(1); // its opening balance only
        await runner.commitTransaction();
        expect((await first).status).toBe(201);
        // Retried with the same key once the first is done, it is applied.
        const retried = await batch(other.id, secondKey).expect(201);
        expect(retried.body.items[0]).toMatchObject({ balanceAfter: '2.00' });
      } else {
        expect(second.status).toBe(201);
        expect(second.body.items[0]).toMatchObject({ balanceAfter: '2.00' });
        expect(await waitingForLock()).toBe(1); // the first still waits
        await runner.commitTransaction();
        expect((await first).status).toBe(201);
      }
    } finally {
      if (runner.isTransactionActive) await runner.rollbackTransaction();
      await runner.release();
    }
  });
});
