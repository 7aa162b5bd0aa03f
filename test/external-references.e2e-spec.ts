import { randomUUID } from 'node:crypto';
import { buildCallChain } from './setup/call-chain';
import { feedUntil, settledSequence } from './setup/events';
import { Actor, createAccount, createCustomer, expectProblem, loginRoot } from './setup/factories';
import { startSecondInstance, startTestApp, TestApp } from './setup/test-app';

const DUPLICATE = 'https://canopy.dev/problems/duplicate-reference';

type Plan = { 'Index Name'?: string; 'Node Type': string; Plans?: Plan[] };

/** Every index a plan (EXPLAIN FORMAT JSON) reads. */
function planIndexes(plan: Plan): string[] {
  const indexes: string[] = [];
  const walk = (node: Plan) => {
    if (node['Index Name']) indexes.push(node['Index Name']);
    node.Plans?.forEach(walk);
  };
  walk(plan);
  return indexes;
}

const holderPath = (kind: 'customers' | 'accounts', id: string) => `/v1/${kind}/${id}/balance-operations`;

/**
 * `externalReference` (SPEC §6): a permanent de-duplication key per target, however much later
 * and under any concurrency; `metadata` (SPEC §15) on balance operations and their entries.
 */
describe('external references and metadata on balance operations', () => {
  let t: TestApp;
  let root: Actor;

  const op = (actor: Actor, path: string, body: object, key: string = randomUUID()) => actor.post(path, body).set('Idempotency-Key', key);
  const batch = (actor: Actor, operations: object[], key: string = randomUUID()) =>
    actor.post('/v1/balance-operations/batch', { operations }).set('Idempotency-Key', key);

  async function holderState(kind: 'customer' | 'account', id: string): Promise<{ balance: string; entries: number }> {
    const [row] = await t.dataSource.query(
      `SELECT h.balance::text AS balance, (SELECT count(*)::int FROM ledger_entries e WHERE e.${kind}_id = h.${kind}_id) AS entries
         FROM ${kind}_balances h WHERE h.${kind}_id = $1`,
      [id],
    );
    return row;
  }

  beforeAll(async () => {
    t = await startTestApp();
    root = await loginRoot(t);
  });
  afterAll(() => t.close());

  describe('a second operation on the same target with the same reference', () => {
    it('is a 409 duplicate-reference naming the existing entry, on a customer; nothing is written', async () => {
      const c = await createCustomer(t, root);
      const path = holderPath('customers', c.id);
      const first = await op(root, path, { action: 'add_funds', amount: '25.00', externalReference: 'bank-tx-0001' }).expect(201);
      expect(first.body.externalReference).toBe('bank-tx-0001');
      const before = await holderState('customer', c.id);

      // Another key, another body even: the reference decides.
      const second = await op(root, path, { action: 'add_funds', amount: '30.00', externalReference: 'bank-tx-0001' });
      expectProblem(second, 409);
      expect(second.body).toMatchObject({ type: DUPLICATE, title: 'Duplicate reference', status: 409, instance: path, existingEntryId: first.body.id });
      expect(second.body.detail).toContain(first.body.id);
      expect(second.body.detail).toContain('bank-tx-0001');
      expect(await holderState('customer', c.id)).toEqual(before);
    });

    it('is a 409 on an account too, and the same reference on another target (or none) is accepted', async () => {
      const owner = await createCustomer(t, root);
      const account = await createAccount(root, owner);
      const other = await createAccount(root, owner);
      const first = await op(root, holderPath('accounts', account.id), { action: 'credit', amount: '5', externalReference: 'refund-77' }).expect(201);
      await op(root, holderPath('accounts', other.id), { action: 'credit', amount: '5', externalReference: 'refund-77' }).expect(201);
      await op(root, holderPath('customers', owner.id), { action: 'credit', amount: '5', externalReference: 'refund-77' }).expect(201);
      await op(root, holderPath('accounts', account.id), { action: 'credit', amount: '5' }).expect(201);
      await op(root, holderPath('accounts', account.id), { action: 'credit', amount: '5' }).expect(201);
      // Case and spacing count: references are compared exactly.
      await op(root, holderPath('accounts', account.id), { action: 'credit', amount: '5', externalReference: 'REFUND-77' }).expect(201);

      const before = await holderState('account', account.id);
      const again = await op(root, holderPath('accounts', account.id), { action: 'debit', amount: '1', externalReference: 'refund-77' });
      expectProblem(again, 409);
      expect(again.body).toMatchObject({ type: DUPLICATE, existingEntryId: first.body.id });
      expect(await holderState('account', account.id)).toEqual(before);
    });

    it('replays with the same Idempotency-Key (201, Idempotent-Replayed), and is a 409 with a new key', async () => {
      const c = await createCustomer(t, root);
      const path = holderPath('customers', c.id);
      const body = { action: 'add_funds', amount: '10.00', externalReference: 'psp-42', metadata: { invoice: 'INV-9' } };
      const key = randomUUID();
      const first = await op(root, path, body, key).expect(201);
      const replay = await op(root, path, body, key).expect(201);
      expect(replay.headers['idempotent-replayed']).toBe('true');
      expect(replay.body).toEqual(first.body);
      const newKey = randomUUID();
      const duplicate = await op(root, path, body, newKey).expect(409);
      expect(duplicate.body.existingEntryId).toBe(first.body.id);
      // The refusal is that key's answer from now on.
      const refusalReplay = await op(root, path, body, newKey).expect(409);
      expect(refusalReplay.headers['idempotent-replayed']).toBe('true');
      expect(refusalReplay.body.existingEntryId).toBe(first.body.id);
      expect((await holderState('customer', c.id)).entries).toBe(1);
    });

    it('is refused months later just as seconds later: long after its Idempotency-Key expired, and against an entry written half a year ago', async () => {
      const c = await createCustomer(t, root);
      const path = holderPath('customers', c.id);
      const key = randomUUID();
      const body = { action: 'add_funds', amount: '12.00', externalReference: 'wire-2026-001' };
      const first = await op(root, path, body, key).expect(201);
      // Without a reference, an expired key lets the same request apply again: the contrast.
      const plainKey = randomUUID();
      await op(root, path, { action: 'add_funds', amount: '1.00' }, plainKey).expect(201);
      // Every key of this customer's operations is past its time (as 24 hours and more later), and purged.
      await t.dataSource.query(`UPDATE idempotency_keys SET expires_at = now() - interval '90 days' WHERE key = ANY ($1)`, [[key, plainKey]]);
      await t.dataSource.query(`DELETE FROM idempotency_keys WHERE key = ANY ($1)`, [[key, plainKey]]);
      await op(root, path, { action: 'add_funds', amount: '1.00' }, plainKey).expect(201);

      const before = await holderState('customer', c.id);
      const sameKey = await op(root, path, body, key);
      expectProblem(sameKey, 409);
      expect(sameKey.body.existingEntryId).toBe(first.body.id);
      expect((await op(root, path, body)).body.existingEntryId).toBe(first.body.id);

      // An entry written six months ago (as an old ledger holds), and its balance.
      const [old] = await t.dataSource.query(
        `INSERT INTO ledger_entries (customer_id, action, amount, currency, exchange_rate, converted_amount, balance_after, actor_id,
                                     external_reference, created_at)
         SELECT customer_id, 'add_funds', 3, 'USD', 1, 3, balance + 3, $2, 'wire-2026-000', now() - interval '6 months' FROM customer_balances WHERE customer_id = $1
         RETURNING id`,
        [c.id, root.id],
      );
      await t.dataSource.query(`UPDATE customer_balances SET balance = balance + 3 WHERE customer_id = $1`, [c.id]);
      const afterOld = await holderState('customer', c.id);
      const late = await op(root, path, { action: 'add_funds', amount: '3', externalReference: 'wire-2026-000' });
      expectProblem(late, 409);
      expect(late.body.existingEntryId).toBe(old.id);
      expect(await holderState('customer', c.id)).toEqual(afterOld);
      expect(afterOld.entries).toBe(before.entries + 1);
    });
  });

  describe('under concurrency', () => {
    /** `n` operations with one reference at once (different keys): exactly one entry, n - 1 409s naming it. */
    async function race(app: TestApp, actor: Actor, n: number, second?: { http: TestApp['http'] }) {
      const c = await createCustomer(app, actor);
      const path = holderPath('customers', c.id);
      const reference = `race-${randomUUID()}`;
      const results = await Promise.all(
        Array.from({ length: n }, (_, i) =>
          ((second && i % 2 ? second.http() : app.http()).post(path) as ReturnType<ReturnType<TestApp['http']>['post']>)
            .set('Authorization', `Bearer ${actor.token}`)
            .set('Idempotency-Key', randomUUID())
            .send({ action: i % 3 ? 'add_funds' : 'credit', amount: '1.00', externalReference: reference }),
        ),
      );
      const created = results.filter((r) => r.status === 201);
      const duplicates = results.filter((r) => r.status === 409);
      expect(results.map((r) => r.status).sort()).toEqual([201, ...Array<number>(n - 1).fill(409)]);
      for (const d of duplicates) expect(d.body).toMatchObject({ type: DUPLICATE, existingEntryId: created[0].body.id });
      const entries = await app.dataSource.query(`SELECT id FROM ledger_entries WHERE customer_id = $1 AND external_reference = $2`, [c.id, reference]);
      expect(entries).toEqual([{ id: created[0].body.id }]);
      const [holder] = await app.dataSource.query(`SELECT balance::text AS balance FROM customer_balances WHERE customer_id = $1`, [c.id]);
      expect(holder.balance).toBe('1.00000000');
    }

    it('20 concurrent posts with one reference make one entry and 19 409s (group commit as configured, two instances)', async () => {
      const second = await startSecondInstance(t);
      try {
        await race(t, root, 20, second);
      } finally {
        await second.close();
      }
    });

    it.each([
      ['every operation alone (GROUP_COMMIT_MAX=1)', { GROUP_COMMIT_MAX: '1' }],
      ['all in one group (a 300 ms window)', { GROUP_COMMIT_WINDOW_MS: '300', GROUP_COMMIT_GROUPS_IN_FLIGHT: '1' }],
    ])('20 concurrent posts with one reference make one entry and 19 409s: %s', async (_name, env) => {
      const app = await startTestApp(env);
      try {
        await race(app, await loginRoot(app), 20);
      } finally {
        await app.close();
      }
    });
  });

  describe('in a batch', () => {
    it('a reference already on the ledger is a per-item duplicate-reference in 422 batch-refused; nothing is written', async () => {
      const c = await createCustomer(t, root);
      const owner = await createCustomer(t, root);
      const account = await createAccount(root, owner);
      const existing = await op(root, holderPath('accounts', account.id), { action: 'add_funds', amount: '4', externalReference: 'pay-1' }).expect(201);
      const before = [await holderState('customer', c.id), await holderState('account', account.id)];
      const res = await batch(root, [
        { customerId: c.id, action: 'add_funds', amount: '1', externalReference: 'pay-1' },
        { accountId: account.id, action: 'add_funds', amount: '1', externalReference: 'pay-1' },
        { accountId: account.id, action: 'add_funds', amount: '1', externalReference: 'pay-2' },
      ]);
      expectProblem(res, 422);
      expect(res.body.type).toBe('https://canopy.dev/problems/batch-refused');
      expect(res.body.errors).toEqual([
        expect.objectContaining({ pointer: '/operations/1', type: DUPLICATE, title: 'Duplicate reference', existingEntryId: existing.body.id }),
      ]);
      expect(res.body.errors[0].detail).toContain(existing.body.id);
      expect([await holderState('customer', c.id), await holderState('account', account.id)]).toEqual(before);
    });

    it('two items with the same target and reference: the later one is a per-item error naming the earlier; nothing is written', async () => {
      const c = await createCustomer(t, root);
      const d = await createCustomer(t, root);
      const before = [await holderState('customer', c.id), await holderState('customer', d.id)];
      const res = await batch(root, [
        { customerId: c.id, action: 'add_funds', amount: '1', externalReference: 'dup' },
        { customerId: d.id, action: 'add_funds', amount: '1', externalReference: 'dup' },
        { customerId: c.id, action: 'add_funds', amount: '2', externalReference: 'other' },
        { customerId: c.id.toUpperCase(), action: 'credit', amount: '3', externalReference: 'dup' },
      ]);
      expectProblem(res, 422);
      expect(res.body.errors).toEqual([expect.objectContaining({ pointer: '/operations/3', type: DUPLICATE, duplicateOf: '/operations/0' })]);
      expect(res.body.errors[0].existingEntryId).toBeUndefined();
      expect(res.body.errors[0].detail).toContain('/operations/0');
      expect([await holderState('customer', c.id), await holderState('customer', d.id)]).toEqual(before);
    });

    it('applied, its entries carry their references and metadata, replay as they were, and block a later single operation', async () => {
      const c = await createCustomer(t, root);
      const owner = await createCustomer(t, root);
      const account = await createAccount(root, owner);
      const key = randomUUID();
      const operations = [
        { customerId: c.id, action: 'add_funds', amount: '7', externalReference: 'stmt-1', metadata: { source: 'bank', line: '1' } },
        { accountId: account.id, action: 'add_funds', amount: '8', externalReference: 'stmt-1' },
        { customerId: c.id, action: 'add_funds', amount: '9' },
      ];
      const res = await batch(root, operations, key).expect(201);
      expect(res.body.items.map((e: { externalReference: string | null; metadata: object }) => [e.externalReference, e.metadata])).toEqual([
        ['stmt-1', { source: 'bank', line: '1' }],
        ['stmt-1', {}],
        [null, {}],
      ]);
      const replay = await batch(root, operations, key).expect(201);
      expect(replay.headers['idempotent-replayed']).toBe('true');
      expect(replay.body).toEqual(res.body);
      const later = await op(root, holderPath('customers', c.id), { action: 'add_funds', amount: '7', externalReference: 'stmt-1' }).expect(409);
      expect(later.body.existingEntryId).toBe(res.body.items[0].id);
      const again = await batch(root, operations);
      expect(again.status).toBe(422);
      expect(again.body.errors.map((e: { pointer: string; existingEntryId: string }) => [e.pointer, e.existingEntryId])).toEqual([
        ['/operations/0', res.body.items[0].id],
        ['/operations/1', res.body.items[1].id],
      ]);
    });
  });

  describe('metadata', () => {
    it('is stored on the entry and returned on the answer, its replay, and the ledger pages; {} when none', async () => {
      const c = await createCustomer(t, root, { balance: '5.00' });
      const path = holderPath('customers', c.id);
      const metadata = { invoice: 'INV-2026-0042', 'crm.id': 'C-1042', 'x:y_z-1': '', note: 'é ü 你好 "quoted" \\ back' };
      const key = randomUUID();
      const res = await op(root, path, { action: 'debit', amount: '2.00', metadata }, key).expect(201);
      expect(res.body.metadata).toEqual(metadata);
      expect(res.body.externalReference).toBeNull();
      expect((await op(root, path, { action: 'debit', amount: '2.00', metadata }, key).expect(201)).body.metadata).toEqual(metadata);
      const plain = await op(root, path, { action: 'credit', amount: '1.00' }).expect(201);
      expect(plain.body.metadata).toEqual({});
      const page = await root.get(path).expect(200);
      // Newest first: the credit, the debit, the opening balance.
      expect(page.body.items.map((e: { metadata: object; action: string }) => [e.action, e.metadata])).toEqual([
        ['credit', {}],
        ['debit', metadata],
        ['opening_balance', {}],
      ]);
      expect(page.body.items[2].externalReference).toBeNull();
      // The customer itself sees its own ledger with the same metadata.
      expect((await c.get(path).expect(200)).body.items[1].metadata).toEqual(metadata);
    });

    it('reaches balance.changed events with the external reference, as the API shows the entry', async () => {
      const owner = await createCustomer(t, root);
      const account = await createAccount(root, owner);
      const from = await settledSequence(root);
      const entry = await op(root, holderPath('accounts', account.id), {
        action: 'add_funds',
        amount: '3',
        externalReference: 'evt-1',
        metadata: { order: 'A-17' },
      }).expect(201);
      const plain = await op(root, holderPath('accounts', account.id), { action: 'add_funds', amount: '1' }).expect(201);
      const events = await feedUntil(root, (e) => e.some((x) => x.type === 'balance.changed' && x.data.entry.id === plain.body.id), from);
      const changed = events.filter((e) => e.type === 'balance.changed' && e.subject.id === account.id);
      expect(changed.map((e) => [e.data.entry.id, e.data.entry.externalReference, e.data.entry.metadata])).toEqual([
        [entry.body.id, 'evt-1', { order: 'A-17' }],
        [plain.body.id, null, {}],
      ]);
    });

    it('takes the limits exactly: 50 keys of 40 characters, values of 500', async () => {
      const c = await createCustomer(t, root);
      const metadata = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${String(i).padStart(2, '0')}${'x'.repeat(37)}`, 'v'.repeat(500)]));
      const res = await op(root, holderPath('customers', c.id), { action: 'add_funds', amount: '1', metadata }).expect(201);
      expect(res.body.metadata).toEqual(metadata);
    });

    it.each([
      ['51 keys', Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, 'v']))],
      ['a value of 501 characters', { note: 'v'.repeat(501) }],
      ['a key of 41 characters', { ['k'.repeat(41)]: 'v' }],
      ['a key with a space', { 'a b': 'v' }],
      ['a number as a value', { amount: 5 }],
      ['a nested object', { nested: { a: 'b' } }],
      ['an array', ['a']],
      ['a string', 'text'],
      ['a NUL character in a value', { note: 'a\u0000b' }],
    ])('over the limits (%s): 400 with the pointer /metadata, nothing written; in a batch /operations/N/metadata', async (_name, metadata) => {
      const c = await createCustomer(t, root);
      const before = await holderState('customer', c.id);
      const res = await op(root, holderPath('customers', c.id), { action: 'add_funds', amount: '1', metadata });
      expectProblem(res, 400);
      // (A NUL is pointed at exactly: /metadata/note.)
      expect(res.body.errors).toEqual([expect.objectContaining({ pointer: expect.stringMatching(/^\/metadata(\/|$)/) })]);
      const inBatch = await batch(root, [
        { customerId: c.id, action: 'add_funds', amount: '1' },
        { customerId: c.id, action: 'add_funds', amount: '1', metadata },
      ]);
      expectProblem(inBatch, 400);
      expect(inBatch.body.errors).toEqual([expect.objectContaining({ pointer: expect.stringMatching(/^\/operations\/1\/metadata(\/|$)/) })]);
      expect(await holderState('customer', c.id)).toEqual(before);
    });
  });

  describe('externalReference validation', () => {
    it.each([
      ['empty', ''],
      ['129 characters', 'r'.repeat(129)],
      ['a number', 42],
      ['a control character', 'ref\u0000x'],
      ['a newline', 'ref\nx'],
    ])('%s: 400 with the pointer /externalReference (and /operations/N/externalReference in a batch), nothing written', async (_name, externalReference) => {
      const c = await createCustomer(t, root);
      const before = await holderState('customer', c.id);
      const res = await op(root, holderPath('customers', c.id), { action: 'add_funds', amount: '1', externalReference });
      expectProblem(res, 400);
      expect(res.body.errors).toEqual([expect.objectContaining({ pointer: '/externalReference' })]);
      const inBatch = await batch(root, [{ customerId: c.id, action: 'add_funds', amount: '1', externalReference }]);
      expectProblem(inBatch, 400);
      expect(inBatch.body.errors).toEqual([expect.objectContaining({ pointer: '/operations/0/externalReference' })]);
      expect(await holderState('customer', c.id)).toEqual(before);
    });

    it('takes 128 characters, and any printable text', async () => {
      const c = await createCustomer(t, root);
      const long = 'R'.repeat(128);
      expect((await op(root, holderPath('customers', c.id), { action: 'add_funds', amount: '1', externalReference: long }).expect(201)).body.externalReference).toBe(long);
      const odd = 'Überweisung 2026/03 #7 "a,b" {x}';
      expect((await op(root, holderPath('customers', c.id), { action: 'add_funds', amount: '1', externalReference: odd }).expect(201)).body.externalReference).toBe(odd);
      expect((await root.get(`${holderPath('customers', c.id)}?externalReference=${encodeURIComponent(odd)}`).expect(200)).body.items).toHaveLength(1);
    });
  });

  describe('usage charges', () => {
    it('are posted as before beside operations with references: no reference, {} metadata', async () => {
      const chain = await buildCallChain(t);
      await op(chain.r2, holderPath('accounts', chain.a.id), { action: 'add_funds', amount: '50', externalReference: 'top-up-1', metadata: { k: 'v' } }).expect(201);
      await chain.post([{ callId: `ref-call-${randomUUID()}`, accountId: chain.a.id, number: '+442071234567', connectTime: '2026-01-15T10:05:00Z', duration: 60 }]);
      const ledger = await chain.r2.get(holderPath('accounts', chain.a.id)).expect(200);
      const usage = ledger.body.items.filter((e: { action: string }) => e.action === 'usage');
      expect(usage.length).toBeGreaterThanOrEqual(3);
      for (const entry of usage) expect(entry).toMatchObject({ externalReference: null, metadata: {} });
      expect(ledger.body.items[0]).toMatchObject({ action: 'usage', amount: '3.00' });
      expect(ledger.body.items[1]).toMatchObject({ action: 'add_funds', externalReference: 'top-up-1', metadata: { k: 'v' } });
    });
  });

  describe('?externalReference= on the ledger', () => {
    it('finds the entry with exactly that reference on this target only (customers and accounts); 400 when too long', async () => {
      const owner = await createCustomer(t, root);
      const account = await createAccount(root, owner);
      const other = await createCustomer(t, root);
      const mine = await op(root, holderPath('customers', owner.id), { action: 'add_funds', amount: '1', externalReference: 'find-me' }).expect(201);
      await op(root, holderPath('customers', owner.id), { action: 'add_funds', amount: '1', externalReference: 'find-me-not' }).expect(201);
      await op(root, holderPath('customers', owner.id), { action: 'add_funds', amount: '1' }).expect(201);
      await op(root, holderPath('customers', other.id), { action: 'add_funds', amount: '1', externalReference: 'find-me' }).expect(201);
      const onAccount = await op(root, holderPath('accounts', account.id), { action: 'add_funds', amount: '1', externalReference: 'find-me' }).expect(201);

      const found = await root.get(`${holderPath('customers', owner.id)}?externalReference=find-me`).expect(200);
      expect(found.body).toEqual({ items: [mine.body], nextCursor: null });
      expect((await root.get(`${holderPath('customers', owner.id)}?externalReference=FIND-ME`).expect(200)).body.items).toEqual([]);
      expect((await root.get(`${holderPath('customers', owner.id)}?externalReference=find&action=add_funds`).expect(200)).body.items).toEqual([]);
      const accountFound = await root.get(`${holderPath('accounts', account.id)}?externalReference=find-me`).expect(200);
      expect(accountFound.body.items.map((e: { id: string }) => e.id)).toEqual([onAccount.body.id]);
      // The customer sees its own entry too (the actor above it shown as null).
      expect((await owner.get(`${holderPath('customers', owner.id)}?externalReference=find-me`).expect(200)).body.items.map((e: { id: string }) => e.id)).toEqual([mine.body.id]);

      const tooLong = await root.get(`${holderPath('customers', owner.id)}?externalReference=${'x'.repeat(129)}`);
      expectProblem(tooLong, 400);
      expect(tooLong.body.errors).toEqual([expect.objectContaining({ parameter: 'externalReference' })]);
    });

    it.each(['customer', 'account'] as const)('is answered from the reference index, not by reading the holder’s ledger (%s)', async (kind) => {
      const owner = await createCustomer(t, root);
      const holderId = kind === 'customer' ? owner.id : (await createAccount(root, owner)).id;
      // A long ledger: 20,000 entries with references (written directly, as years of payments would be).
      await t.dataSource.query(
        `INSERT INTO ledger_entries (${kind}_id, action, amount, currency, exchange_rate, converted_amount, balance_after, actor_id, external_reference)
         SELECT $1, 'add_funds', 1, 'USD', 1, 1, g, $2, 'ref-' || g FROM generate_series(1, 20000) g`,
        [holderId, root.id],
      );
      await t.dataSource.query(`UPDATE ${kind}_balances SET balance = 20000 WHERE ${kind}_id = $1`, [holderId]);
      await t.dataSource.query('ANALYZE ledger_entries');
      const recorded: Array<{ sql: string; params: unknown[] }> = [];
      const query = t.dataSource.query.bind(t.dataSource);
      t.dataSource.query = (async (sql: string, params?: unknown[], ...rest: unknown[]) => {
        recorded.push({ sql, params: params ?? [] });
        return (query as (...args: unknown[]) => Promise<unknown>)(sql, params, ...rest);
      }) as typeof t.dataSource.query;
      let res;
      try {
        res = await root.get(`${holderPath(kind === 'customer' ? 'customers' : 'accounts', holderId)}?externalReference=ref-12345`).expect(200);
      } finally {
        t.dataSource.query = query;
      }
      expect(res.body.items.map((e: { externalReference: string; balanceAfter: string }) => [e.externalReference, e.balanceAfter])).toEqual([['ref-12345', '12345.00']]);
      const statement = recorded.find((r) => /FROM ledger_entries/.test(r.sql) && /external_reference =/.test(r.sql));
      if (!statement) throw new Error('no ledger list statement was sent');
      const rows: Array<{ 'QUERY PLAN': Array<{ Plan: Plan }> }> = await t.dataSource.query(`EXPLAIN (FORMAT JSON) ${statement.sql}`, statement.params);
      expect(planIndexes(rows[0]['QUERY PLAN'][0].Plan)).toContain(`ledger_entries_${kind}_reference`);
    });
  });
});
