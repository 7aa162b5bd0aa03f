import fc from 'fast-check';
import { randomUUID } from 'node:crypto';
import { Actor, createCustomer, createTariff, expectProblem, loginRoot, uniqueName } from './setup/factories';
import { startTestApp, TestApp } from './setup/test-app';

/**
 * SPEC §11 as a property: cursors are opaque and tamper-evident. For EVERY list, a cursor the
 * server did not issue for that list — random text, a well-formed cursor of the old unsigned
 * kind (base64url JSON) holding odd values, a real cursor with a bit flipped or cut short, a
 * real cursor of another list — is a 400 problem naming `cursor`, never a 500 nor a page.
 *
 * Reproduce a failure with FC_SEED=<seed> (and FC_PATH=<path>) from the report.
 */
const NUM_RUNS = Number(process.env.FC_NUM_RUNS ?? 20);

type Res = { status: number; headers: Record<string, string>; body: Record<string, unknown> };

interface List {
  /** The path template, as in openapi.json. */
  template: string;
  url: string;
  query?: Record<string, string>;
  /** Lists of one kind may share cursors (children and subtree of customers). */
  kind: string;
  /** A real cursor of this list (from a first page of one item). */
  cursor?: string;
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** Values that once passed as cursor positions and broke SQL casts, and their neighbours. */
const oddValue = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.integer(),
  fc.double(),
  fc.constantFrom(
    '99999999999999999999',
    '9223372036854775808',
    '18446744073709551615',
    '-1',
    '2026-02-30T00:00:00.000000Z',
    '2026-13-45T25:61:61Z',
    'yesterday',
    '0000-00-00T00:00:00Z',
    'not-a-uuid',
    '0b5f3c1e-7d1a-4c1e-9a53-0f6c1f0d9e2',
    "x' OR 1=1 --",
    '',
    '\u00e9\u0301',
  ),
  fc.constant(null),
  fc.boolean(),
);

/** A cursor of the old kind: base64url of a JSON array of sort-key values. */
const forgedJson = fc.oneof(fc.array(oddValue, { minLength: 1, maxLength: 3 }), oddValue).map(b64);
const randomText = fc.oneof(fc.string({ maxLength: 300 }), fc.stringMatching(/^[A-Za-z0-9_-]{1,200}$/));

describe('forged cursors (property)', () => {
  let t: TestApp;
  let root: Actor;
  const lists: List[] = [];

  beforeAll(async () => {
    t = await startTestApp({ RATE_LIMIT_EXPENSIVE_PER_MINUTE: '1000000', WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true' });
    root = await loginRoot(t);
    const a = await createCustomer(t, root, { balance: '5' });
    await createCustomer(t, root);
    const tariffId = await createTariff(root);
    const accounts: string[] = [];
    for (let i = 0; i < 2; i++) {
      const res = await root.post('/v1/accounts', {
        customerId: a.id,
        username: uniqueName('sip'),
        webPassword: 'password-123',
        voipPassword: 'voip-secret',
        tariffId: await createTariff(a),
      });
      expect(res.status).toBe(201);
      accounts.push(res.body.id);
    }
    for (const prefix of ['31', '32', '33']) await root.post(`/v1/tariffs/${tariffId}/rates`, { prefix, price: '0.01' }).expect(201);
    for (let i = 0; i < 2; i++) {
      await root.post('/v1/routing-groups', { name: uniqueName('group'), policy: 'priority' }).expect(201);
      await root.post('/v1/api-keys', { name: uniqueName('key') }).expect(201);
      await root.post(`/v1/customers/${a.id}/balance-operations`, { action: 'add_funds', amount: '1' }).set('Idempotency-Key', randomUUID()).expect(201);
      await root.post(`/v1/accounts/${accounts[0]}/balance-operations`, { action: 'add_funds', amount: '1' }).set('Idempotency-Key', randomUUID()).expect(201);
    }
    for (const [currency, rate] of [['EUR', '1.1'], ['EUR', '1.2'], ['GBP', '1.3']]) await root.put(`/v1/exchange-rates/${currency}`, { rate }).expect(200);
    // Two rated calls on two days: the call list and the usage report (per day) have two items each.
    const sold = await createTariff(root);
    await root.post(`/v1/tariffs/${sold}/rates`, { prefix: '4', price: '0.01', effectiveFrom: '2025-01-01T00:00:00Z' }).expect(201);
    const caller = await createCustomer(t, root, { tariffId: sold });
    const own = await createTariff(caller);
    await caller.post(`/v1/tariffs/${own}/rates`, { prefix: '4', price: '0.02', effectiveFrom: '2025-01-01T00:00:00Z' }).expect(201);
    const callerAccount = await root.post('/v1/accounts', {
      customerId: caller.id,
      username: uniqueName('sip'),
      webPassword: 'password-123',
      voipPassword: 'voip-secret',
      tariffId: own,
    });
    expect(callerAccount.status).toBe(201);
    const posted = await root.post('/v1/calls', {
      calls: ['2026-01-10T10:00:00Z', '2026-01-11T10:00:00Z'].map((connectTime, i) => ({ callId: `cursor-${i}`, accountId: callerAccount.body.id, number: '+4420', connectTime, duration: 60 })),
    });
    expect(posted.body.items.map((item: { status: string }) => item.status)).toEqual(['rated', 'rated']);
    // Webhook endpoints (a closed local port: the test deliveries fail at once) and two deliveries of one.
    const hooks: string[] = [];
    for (let i = 0; i < 2; i++) hooks.push((await root.post('/v1/webhook-endpoints', { url: 'http://127.0.0.1:9/hooks', events: ['balance.low'] }).expect(201)).body.id);
    for (let i = 0; i < 2; i++) await root.post(`/v1/webhook-endpoints/${hooks[0]}/test`).expect(202);
    // Events and deliveries appear shortly after their commit (the relay, then the dispatcher):
    // every list below must have two items before its cursors are tried.
    for (const url of ['/v1/events?limit=2', `/v1/webhook-endpoints/${hooks[0]}/deliveries?limit=2`]) {
      const deadline = Date.now() + 15000;
      while ((await root.get(url).expect(200)).body.items.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    }

    lists.push(
      { template: '/v1/customers', url: '/v1/customers', kind: 'customers' },
      { template: '/v1/customers', url: '/v1/customers', query: { scope: 'subtree' }, kind: 'customers' },
      { template: '/v1/accounts', url: '/v1/accounts', query: { scope: 'subtree' }, kind: 'accounts' },
      { template: '/v1/tariffs', url: '/v1/tariffs', kind: 'tariffs' },
      { template: '/v1/tariffs/{id}/rates', url: `/v1/tariffs/${tariffId}/rates`, kind: 'rates' },
      { template: '/v1/routing-groups', url: '/v1/routing-groups', kind: 'routing-groups' },
      { template: '/v1/customers/{id}/balance-operations', url: `/v1/customers/${a.id}/balance-operations`, kind: 'customer-ledger' },
      { template: '/v1/accounts/{id}/balance-operations', url: `/v1/accounts/${accounts[0]}/balance-operations`, kind: 'account-ledger' },
      { template: '/v1/audit-events', url: '/v1/audit-events', kind: 'audit' },
      { template: '/v1/events', url: '/v1/events', kind: 'events' },
      { template: '/v1/exchange-rates', url: '/v1/exchange-rates', kind: 'exchange-rates' },
      { template: '/v1/exchange-rates/{currency}/history', url: '/v1/exchange-rates/EUR/history', kind: 'exchange-rate-history' },
      { template: '/v1/api-keys', url: '/v1/api-keys', kind: 'api-keys' },
      { template: '/v1/webhook-endpoints', url: '/v1/webhook-endpoints', kind: 'webhook-endpoints' },
      { template: '/v1/webhook-endpoints/{id}/deliveries', url: `/v1/webhook-endpoints/${hooks[0]}/deliveries`, kind: 'webhook-deliveries' },
      { template: '/v1/permissions', url: '/v1/permissions', kind: 'permissions' },
      { template: '/v1/time-zones', url: '/v1/time-zones', kind: 'time-zones' },
      { template: '/v1/languages', url: '/v1/languages', kind: 'languages' },
      { template: '/v1/currencies', url: '/v1/currencies', kind: 'currencies' },
      { template: '/v1/calls', url: '/v1/calls', kind: 'calls' },
      { template: '/v1/usage', url: '/v1/usage', query: { from: '2026-01-01', to: '2026-01-31', groupBy: 'day' }, kind: 'usage' },
    );
    for (const list of lists) {
      const first = await root.get(list.url).query({ ...list.query, limit: 1 });
      expect({ list: list.kind, status: first.status, items: first.body.items?.length }).toEqual({ list: list.kind, status: 200, items: 1 });
      expect(typeof first.body.nextCursor).toBe('string');
      list.cursor = first.body.nextCursor;
      // The real cursor works on its own list: the next page starts after the first.
      const second = await root.get(list.url).query({ ...list.query, limit: 1, cursor: list.cursor });
      expect(second.status).toBe(200);
      expect(second.body.items).toHaveLength(1);
      expect(second.body.items[0]).not.toEqual(first.body.items[0]);
    }
  });
  afterAll(() => t.close());

  it('covers every list of the contract', () => {
    const document = JSON.parse(require('node:fs').readFileSync(`${__dirname}/../openapi/openapi.json`, 'utf8'));
    const schemas = document.components.schemas as Record<string, { properties?: Record<string, unknown> }>;
    const listed = Object.entries(document.paths as Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: { $ref?: string } }> }> }>>)
      .filter(([, ops]) => {
        const ref = ops.get?.responses['200']?.content?.['application/json']?.schema.$ref;
        return ref !== undefined && 'nextCursor' in (schemas[ref.split('/').pop()!].properties ?? {});
      })
      .map(([path]) => path);
    expect(listed.length).toBeGreaterThan(10);
    expect([...new Set(lists.map((l) => l.template))].sort()).toEqual(listed.sort());
    // And every one of them takes limit and cursor (SPEC §11).
    for (const path of listed) {
      const names = (document.paths[path].get.parameters as Array<{ name: string }>).map((p) => p.name);
      expect(names).toEqual(expect.arrayContaining(['limit', 'cursor']));
    }
  });

  const expectRefused = async (list: List, cursor: string) => {
    const res = (await root.get(list.url).query({ ...list.query, cursor })) as Res;
    if (res.status !== 400) throw new Error(`${list.url} with cursor ${JSON.stringify(cursor)}: ${res.status} ${JSON.stringify(res.body)}`);
    expectProblem(res, 400);
    expect(res.body.errors).toEqual(expect.arrayContaining([expect.objectContaining({ parameter: 'cursor' })]));
  };

  it('answers 400 to random text and to well-formed unsigned cursors, on every list', async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat(lists.length - 1), fc.oneof(randomText, forgedJson), async (i, cursor) => expectRefused(lists[i], cursor)),
      { numRuns: NUM_RUNS * lists.length },
    );
    // Every list meets the values that used to reach SQL casts.
    for (const list of lists) {
      for (const values of [['9223372036854775808'], ['2026-02-30T00:00:00Z', randomUUID()], ['31', 'yesterday'], ['x', 'not-a-uuid'], [randomUUID()]]) {
        await expectRefused(list, b64(values));
      }
    }
  });

  it('answers 400 to real cursors with a bit flipped or cut short, on every list', async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat(lists.length - 1), fc.nat(), fc.nat(7), fc.boolean(), async (i, at, bit, cut) => {
        const raw = Buffer.from(lists[i].cursor!, 'base64url');
        const position = at % raw.length;
        const forged = cut ? raw.subarray(0, position) : Buffer.from(raw);
        if (!cut) forged[position] ^= 1 << bit;
        await expectRefused(lists[i], forged.toString('base64url'));
      }),
      { numRuns: NUM_RUNS * lists.length },
    );
  });

  it('answers 400 to a real cursor of another list', async () => {
    for (const list of lists) {
      for (const other of lists) {
        if (other.kind !== list.kind) await expectRefused(list, other.cursor!);
      }
    }
  });
});
