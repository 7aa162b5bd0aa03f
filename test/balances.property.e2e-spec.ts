import Big from 'big.js';
import fc from 'fast-check';
import { randomUUID } from 'node:crypto';
import { Actor, createCustomer, loginRoot } from './setup/factories';
import { startTestApp, TestApp } from './setup/test-app';

interface Op {
  target: number;
  action: 'add_funds' | 'credit' | 'debit';
  amount: string;
  allowOverdraft: boolean;
  copies: number;
}

const amount = fc
  .tuple(fc.integer({ min: 0, max: 30 }), fc.integer({ min: 0, max: 99_999_999 }), fc.integer({ min: 0, max: 8 }))
  .map(([whole, fraction, digits]) => (digits === 0 ? String(whole || 1) : `${whole}.${String(fraction).padStart(8, '0').slice(0, digits)}`))
  .filter((a) => new Big(a).gt(0));

const operation: fc.Arbitrary<Op> = fc.record({
  target: fc.integer({ min: 0, max: 2 }),
  action: fc.constantFrom('add_funds' as const, 'credit' as const, 'debit' as const, 'debit' as const),
  amount,
  allowOverdraft: fc.boolean().map((b) => b && Math.random() < 0.3),
  copies: fc.integer({ min: 1, max: 3 }),
});

/**
 * Random sequences of operations and retries (the same key sent several times, at once)
 * on a small tree: every balance equals its ledger sum, each key applies at most once, and
 * no debit without allowOverdraft ever takes a balance below -creditLimit.
 */
describe('balance invariants (property)', () => {
  let t: TestApp;
  let root: Actor;

  beforeAll(async () => {
    t = await startTestApp();
    root = await loginRoot(t);
  });
  afterAll(() => t.close());

  it('holds under random concurrent operations and retries', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(operation, { minLength: 1, maxLength: 5 }), { minLength: 1, maxLength: 4 }),
        fc.array(fc.constantFrom('0', '5', '12.5'), { minLength: 3, maxLength: 3 }),
        async (batches, limits) => {
          // A small tree: root → p → q, and root → r; the root operates on p and r, p on q.
          const p = await createCustomer(t, root, { creditLimit: limits[0] });
          const q = await createCustomer(t, p, { creditLimit: limits[1], balance: '1.5' });
          const r = await createCustomer(t, root, { creditLimit: limits[2] });
          const targets = [
            { customer: p, operator: root, limit: limits[0] },
            { customer: q, operator: p, limit: limits[1] },
            { customer: r, operator: root, limit: limits[2] },
          ];
          const overdraftKeys = new Set<string>();
          const sentKeys = new Set<string>();
          for (const batch of batches) {
            const requests = batch.flatMap((o) => {
              const key = randomUUID();
              sentKeys.add(key);
              if (o.allowOverdraft && o.action === 'debit') overdraftKeys.add(key);
              const body = { action: o.action, amount: o.amount, ...(o.action === 'debit' && o.allowOverdraft ? { allowOverdraft: true } : {}) };
              const { customer, operator } = targets[o.target];
              return Array.from({ length: o.copies }, () =>
                operator.post(`/v1/customers/${customer.id}/balance-operations`, body).set('Idempotency-Key', key),
              );
            });
            const responses = await Promise.all(requests);
            for (const res of responses) expect([201, 422]).toContain(res.status);
          }
          for (const { customer, limit } of targets) {
            const rows: Array<{ balance: string; converted_amount: string | null; balance_after: string | null; action: string | null; idempotency_key: string | null }> =
              await t.dataSource.query(
                `SELECT b.balance, e.converted_amount, e.balance_after, e.action, e.idempotency_key
                   FROM customer_balances b LEFT JOIN ledger_entries e ON e.customer_id = b.customer_id WHERE b.customer_id = $1 ORDER BY e.seq`,
                [customer.id],
              );
            const sum = rows.reduce((acc, row) => acc.plus(row.converted_amount ?? '0'), new Big(0));
            expect(sum.eq(rows[0].balance)).toBe(true);
            const keys = rows.map((row) => row.idempotency_key).filter((k): k is string => k !== null);
            expect(new Set(keys).size).toBe(keys.length);
            for (const k of keys) expect(sentKeys.has(k)).toBe(true);
            let running = new Big(0);
            for (const row of rows) {
              if (row.converted_amount === null) continue;
              running = running.plus(row.converted_amount);
              expect(running.eq(row.balance_after!)).toBe(true);
              if (row.action === 'debit' && running.lt(new Big(limit).neg())) {
                expect(overdraftKeys.has(row.idempotency_key!)).toBe(true);
              }
            }
          }
        },
      ),
      { numRuns: 15 },
    );
  });
});
