import fc from 'fast-check';
import { randomUUID } from 'node:crypto';
import { Actor, createCustomer, createTariff, loginRoot, uniqueName } from './setup/factories';
import { startTestApp, TestApp } from './setup/test-app';

/**
 * A random tree: `parents[i]` is the index of customer i's parent, -1 for the root, always an
 * earlier customer, so every array is a tree under the root.
 */
const tree = fc
  .integer({ min: 2, max: 8 })
  .chain((size) => fc.tuple(...Array.from({ length: size }, (_, i) => fc.integer({ min: -1, max: i - 1 }))));

/** Whether customer `x` lies in the subtree of `caller` (itself included), by the model. */
function inSubtree(parents: number[], caller: number, x: number): boolean {
  for (let at = x; at !== -1; at = parents[at]) if (at === caller) return true;
  return false;
}

type Probe = 'get' | 'patch' | 'delete' | 'debit' | 'ledger';

/**
 * What a caller can reach among accounts is exactly the accounts of its own subtree (itself
 * included): every other account answers 404, whatever is tried on it. The probes change
 * nothing (a stale If-Match is 412 on a reachable account, a debit without funds is 422).
 */
describe('account visibility (property)', () => {
  let t: TestApp;
  let root: Actor;
  const outsiders: string[] = [];

  beforeAll(async () => {
    t = await startTestApp();
    root = await loginRoot(t);
    const res = await root.post('/v1/accounts', {
      username: uniqueName('root-sip'),
      webPassword: 'web-password-1',
      voipPassword: 'voip-password-1',
      tariffId: await createTariff(root),
    });
    outsiders.push(res.body.id);
  });
  afterAll(() => t.close());

  async function probe(actor: Actor, accountId: string, kind: Probe): Promise<number> {
    const url = `/v1/accounts/${accountId}`;
    switch (kind) {
      case 'get':
        return (await actor.get(url)).status;
      case 'patch':
        return (await actor.patch(url, { maxSessions: 2 }).set('If-Match', '"999999"')).status;
      case 'delete':
        return (await actor.delete(url).set('If-Match', '"999999"')).status;
      case 'debit':
        return (await actor.post(`${url}/balance-operations`, { action: 'debit', amount: '1' }).set('Idempotency-Key', randomUUID())).status;
      case 'ledger':
        return (await actor.get(`${url}/balance-operations`)).status;
    }
  }
  const reachableStatus: Record<Probe, number> = { get: 200, patch: 412, delete: 412, debit: 422, ledger: 200 };

  it('lets a caller reach exactly the accounts of its subtree', async () => {
    await fc.assert(
      fc.asyncProperty(
        tree,
        fc.array(fc.nat(), { minLength: 1, maxLength: 3 }),
        fc.constantFrom<Probe>('get', 'patch', 'delete', 'debit', 'ledger'),
        async (parents, callerSeeds, kind) => {
          const customers: Actor[] = [];
          const accounts: string[] = [];
          for (let i = 0; i < parents.length; i++) {
            const customer = await createCustomer(t, parents[i] === -1 ? root : customers[parents[i]]);
            customers.push(customer);
            const res = await customer
              .post('/v1/accounts', {
                username: uniqueName('sip'),
                webPassword: 'web-password-1',
                voipPassword: 'voip-password-1',
                tariffId: await createTariff(customer),
              })
              .expect(201);
            accounts.push(res.body.id);
          }
          const callers = [...new Set(callerSeeds.map((seed) => seed % parents.length))];
          for (const caller of callers) {
            const actor = customers[caller];
            const expected = parents.map((_, x) => inSubtree(parents, caller, x));
            // Single accounts: reachable ⇔ in the subtree; elsewhere (and above, and in earlier trees) 404.
            for (let x = 0; x < accounts.length; x++) {
              expect(await probe(actor, accounts[x], kind)).toBe(expected[x] ? reachableStatus[kind] : 404);
            }
            for (const outsider of outsiders) expect(await probe(actor, outsider, kind)).toBe(404);
            // Lists: the subtree list is exactly the subtree's accounts; per customer, 200 ⇔ visible.
            const list = await actor.get('/v1/accounts?scope=subtree&limit=200').expect(200);
            const listed = new Set(list.body.items.map((item: { id: string }) => item.id));
            expect(listed).toEqual(new Set(accounts.filter((_, x) => expected[x])));
            for (let x = 0; x < customers.length; x++) {
              const own = await actor.get(`/v1/accounts?customerId=${customers[x].id}`);
              expect(own.status).toBe(expected[x] ? 200 : 404);
              if (expected[x]) expect(own.body.items.map((item: { id: string }) => item.id)).toEqual([accounts[x]]);
            }
          }
          outsiders.push(...accounts.slice(0, 2));
        },
      ),
      { numRuns: 12 },
    );
  });
});
