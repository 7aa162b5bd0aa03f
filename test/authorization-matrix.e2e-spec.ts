import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Operation, Spec } from './fuzz/openapi-arbitraries';
import { ACCOUNT_ROUTES } from '../src/auth/account-principal';
import { Actor, createAccount, createCustomer, createTariff, loginRoot } from './setup/factories';
import { startTestApp, TestApp } from './setup/test-app';

/**
 * Object-level authorization, generated from openapi/openapi.json: every operation that
 * addresses an object by id (in its path, or a customerId/parentId/ownerId query) is called
 * by customer X on the objects of its parent P, its sibling S and its cousin K. All answer
 * 404, and nothing of theirs changes in the database.
 */
const spec = JSON.parse(readFileSync(path.join(__dirname, '../openapi/openapi.json'), 'utf8')) as Spec;
const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;
const OWNER_QUERY = ['customerId', 'parentId', 'ownerId'];
/** System-wide objects (routing groups) belong to no subtree: they are behind system.* (403). */
const SYSTEM_WIDE = /^\/v1\/routing-groups/;

const BODIES: Record<string, { body?: unknown; csv?: string; query?: Record<string, string> }> = {
  updateAccount: { body: { maxSessions: 2 } },
  createAccountBatch: { body: { count: 2, usernamePrefix: 'card-', tariffId: '00000000-0000-4000-8000-000000000000' } },
  createAccountBalanceOperation: { body: { action: 'add_funds', amount: '1' } },
  createCustomerBalanceOperation: { body: { action: 'add_funds', amount: '1' } },
  updateCustomer: { body: { name: 'hijacked' } },
  replaceCustomerPermissions: { body: { permissions: [] } },
  setExchangeRate: { body: { rate: '2' } },
  updateTariff: { body: { description: 'hijacked' } },
  createRate: { body: { prefix: '99', price: '1' } },
  uploadRateDeck: { csv: 'prefix,price,firstInterval,nextInterval,connectFee,effectiveFrom\n99,1,1,1,0,2020-01-01T00:00:00.000Z\n' },
  updateRate: { body: { price: '9' } },
  lookupRate: { query: { number: '4420' } },
  updateWebhookEndpoint: { body: { description: 'hijacked', status: 'disabled' } },
};

const TABLES = ['customers', 'accounts', 'tariffs', 'rates', 'exchange_rates', 'exchange_rate_history', 'ledger_entries', 'api_keys', 'audit_events', 'refresh_tokens', 'webhook_endpoints', 'webhook_deliveries'];

type Method = (typeof METHODS)[number];
type Extra = { body?: unknown; csv?: string; query?: Record<string, string> };

/** Someone else's objects (or the caller's own), each operation's path ids taken from them. */
interface Victim {
  name: string;
  customerId: string;
  tariffId: string;
  rateId: string;
  accountId: string;
  apiKeyId: string;
  webhookId: string;
  /** Absent: call ids are the customer's id (no such call). */
  callId?: string;
}

/** A victim's tariff with a rate for `prefix`, an account on it (unless `tariffId` is given, a new tariff), an API key and a webhook endpoint. */
async function victimObjects(customer: Actor, name: string, prefix: string, tariffId?: string): Promise<Omit<Victim, 'callId'>> {
  tariffId ??= await createTariff(customer);
  const rate = await customer.post(`/v1/tariffs/${tariffId}/rates`, { prefix, price: '0.5', effectiveFrom: '2020-01-01T00:00:00.000Z' });
  const rateId = rate.status === 201 ? rate.body.id : (await customer.get(`/v1/tariffs/${tariffId}/rates`).expect(200)).body.items[0].id;
  const account = await createAccount(customer, customer, { tariffId, webPassword: 'web-password-1' });
  const key = await customer.post('/v1/api-keys', { name: `victim-${name}` }).expect(201);
  const webhook = await customer.post('/v1/webhook-endpoints', { url: 'https://93.184.215.14/hooks', events: ['balance.low'] }).expect(201);
  return { name, customerId: customer.id, tariffId, rateId, accountId: account.id, apiKeyId: key.body.id, webhookId: webhook.body.id };
}

/** A hash of every row of each table. */
async function snapshot(t: TestApp, tables: readonly string[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const table of tables) {
    const [row] = await t.dataSource.query(`SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) AS h FROM ${table} t`);
    out[table] = row.h;
  }
  return out;
}

/** The id a path parameter of `route` names among a victim's objects. */
function idFor(route: string, name: string, victim: Victim): string {
  if (name === 'rateId') return victim.rateId;
  if (name === 'currency') return 'EUR';
  if (route.startsWith('/v1/accounts')) return victim.accountId;
  if (route.startsWith('/v1/calls') && victim.callId) return victim.callId;
  if (route.startsWith('/v1/tariffs')) return victim.tariffId;
  if (route.startsWith('/v1/api-keys')) return victim.apiKeyId;
  if (route.startsWith('/v1/webhook-endpoints')) return victim.webhookId;
  return victim.customerId;
}

/** How one principal is swept: its token, the operations it is sent, their bodies, and the owner queries each is sent with. */
interface Principal {
  token: () => string;
  operations: Array<{ route: string; method: Method; op: Operation }>;
  bodies: (op: Operation) => Extra;
  /** The query parameter sets an operation is called with on a victim's objects (each a request). */
  ownerQueries: (op: Operation, victim: Victim) => Array<Record<string, string>>;
  /** A POST, PUT or PATCH with no body of its own sends `{}`. */
  emptyBody: boolean;
}

/**
 * The sweep: `principal` calls every one of its operations on every victim's objects;
 * `judge` says what is wrong with an answer (undefined: nothing). Returns the failures.
 */
async function sweep(
  t: TestApp,
  principal: Principal,
  victims: readonly Victim[],
  judge: (op: Operation, res: { status: number; text: string; problem: boolean }) => string | undefined,
): Promise<string[]> {
  const failures: string[] = [];
  for (const victim of victims) {
    for (const { route, method, op } of principal.operations) {
      const extra = principal.bodies(op);
      for (const ownerParams of principal.ownerQueries(op, victim)) {
        const query = new URLSearchParams({ ...(extra.query ?? {}), ...ownerParams });
        const url = route.replace(/\{(\w+)\}/g, (_m, name: string) => idFor(route, name, victim)) + (query.size ? `?${query}` : '');
        let request = t.http()[method](url).set('Authorization', `Bearer ${principal.token()}`).set('Idempotency-Key', randomUUID());
        if (extra.csv) request = request.set('content-type', 'text/csv').send(extra.csv);
        else if (extra.body) request = request.send(extra.body as object);
        else if (principal.emptyBody && ['post', 'put', 'patch'].includes(method)) request = request.send({});
        const res = await request;
        const problem = /^application\/problem\+json/.test(res.headers['content-type'] ?? '');
        const wrong = judge(op, { status: res.status, text: res.text, problem });
        if (wrong) failures.push(`${method.toUpperCase()} ${url} (${victim.name}): ${wrong}`);
      }
    }
  }
  return failures;
}

/** The owner query parameters (customerId, parentId, ownerId, and any of `more`) an operation takes. */
const ownerQueryOf = (op: Operation, more: string[] = []) =>
  (op.parameters ?? []).filter((q) => q.in === 'query' && [...OWNER_QUERY, ...more].includes(q.name)).map((q) => q.name);

const targets = Object.entries(spec.paths).flatMap(([route, item]) =>
  METHODS.filter((m) => item[m]).flatMap((method) => {
    const op = item[method] as Operation;
    const addressed = route.includes('{') || ownerQueryOf(op).length > 0;
    return addressed && !SYSTEM_WIDE.test(route) ? [{ route, method, op }] : [];
  }),
);

describe('object-level authorization matrix', () => {
  let t: TestApp;
  let x: Actor;
  const victims: Victim[] = [];
  /** X: every owner query names the victim's customer, in one request. */
  const customerX: Principal = {
    token: () => x.token,
    operations: targets,
    bodies: (op) => BODIES[op.operationId] ?? {},
    ownerQueries: (op, victim) => [Object.fromEntries(ownerQueryOf(op).map((q) => [q, victim.customerId]))],
    emptyBody: false,
  };

  beforeAll(async () => {
    t = await startTestApp({ RATE_LIMIT_EXPENSIVE_PER_MINUTE: '100000' });
    const root = await loginRoot(t);
    const p = await createCustomer(t, root, { name: 'P' });
    const u = await createCustomer(t, root, { name: 'U' });
    x = await createCustomer(t, p, { name: 'X' });
    const s = await createCustomer(t, p, { name: 'S' });
    const k = await createCustomer(t, u, { name: 'K' });
    for (const [name, customer] of [['parent', p], ['sibling', s], ['cousin', k]] as const) {
      victims.push(await victimObjects(customer, name, '44'));
      await customer.put('/v1/exchange-rates/EUR', { rate: '1.5' }).expect(200);
    }
  });
  afterAll(() => t.close());

  it('covers every operation that addresses an object', () => {
    const uncovered = targets
      .filter(({ op }) => op.requestBody && !BODIES[op.operationId])
      .map(({ op }) => op.operationId);
    expect(uncovered).toEqual([]);
    expect(targets.length).toBeGreaterThan(25);
  });

  it('answers 404 to X for its parent’s, sibling’s and cousin’s objects, changing nothing', async () => {
    const before = await snapshot(t, TABLES);
    const failures = await sweep(t, customerX, victims, (_op, res) => (res.status === 404 && res.problem ? undefined : `${res.status} ${res.text.slice(0, 200)}`));
    expect(failures).toEqual([]);
    expect(await snapshot(t, TABLES)).toEqual(before);
  });
});

/**
 * The account principal (SPEC §2 "Account self-care") against EVERY authenticated operation of
 * the contract, generated from openapi/openapi.json: account A of customer X calls each one on
 * its own objects (its account, its calls), on its customer's and its sibling account's, and on
 * those of X's parent. Every answer is a 403 or 404 problem — or, for the few operations open to
 * accounts, 200 with its own data, holding nothing of anyone else — and nothing in the database
 * changes.
 */
describe('authorization matrix: the account principal against every operation', () => {
  let t: TestApp;
  /** The operations that answer an account principal with its own data (src/auth/account-principal.ts). */
  const OPEN_TO_ACCOUNTS = new Set(['getMe', 'logout', 'getAccount', 'listAccountBalanceOperations', 'getAccountStatement', 'listCalls', 'getCall']);
  /** updateMe is open too: this body asks for what its customer controls (400, nothing written). */
  const ACCOUNT_BODIES: Record<string, { body?: unknown }> = { updateMe: { body: { creditLimit: '1000' } }, updateRoutingGroup: { body: { name: 'hijacked' } } };
  const operations = Object.entries(spec.paths).flatMap(([route, item]) =>
    METHODS.filter((m) => item[m] && !(Array.isArray(item[m]!.security) && item[m]!.security!.length === 0)).map((method) => ({
      route,
      method,
      op: item[method] as Operation,
    })),
  );
  let token: string;
  let own: { accountId: string; callId: string; tariffId: string };
  /** Ids and names of everyone else's objects: none may appear in an answer to A. */
  const foreign: string[] = [];
  const victims: Victim[] = [];
  const tables = [...TABLES, 'calls', 'call_charges', 'idempotency_keys'];
  /** Account A: each operation once without owner queries, then once per owner query (accountId too) naming the victim's. */
  const accountA: Principal = {
    token: () => token,
    // logout: its own tokens only, proven in account-self-care.e2e-spec.ts.
    operations: operations.filter(({ op }) => op.operationId !== 'logout'),
    bodies: (op) => ({ ...(BODIES[op.operationId] ?? {}), ...(ACCOUNT_BODIES[op.operationId] ?? {}) }),
    ownerQueries: (op, victim) => [{}, ...ownerQueryOf(op, ['accountId']).map((q) => ({ [q]: q === 'accountId' ? victim.accountId : victim.customerId }))],
    emptyBody: true,
  };

  beforeAll(async () => {
    t = await startTestApp({ RATE_LIMIT_EXPENSIVE_PER_MINUTE: '100000' });
    const root = await loginRoot(t);
    const p = await createCustomer(t, root, { name: 'P' });
    const x = await createCustomer(t, p, { name: 'X' });
    const victimOf = async (name: string, customer: Actor, accountTariff?: string) => {
      const { name: _name, ...objects } = await victimObjects(customer, name, '1', accountTariff);
      const call = await root
        .post('/v1/calls', { calls: [{ callId: `call-${name}`, accountId: objects.accountId, number: '15551234', connectTime: '2026-01-15T10:00:00Z', duration: 60 }] })
        .expect(200);
      expect(call.body.items[0].status).toBe('rated');
      return { ...objects, callId: call.body.items[0].call.id as string };
    };
    // Root's tariff of P and P's of X need rates for the calls to be rated at every level.
    for (const [seller, buyer] of [[root, p], [p, x]] as const) {
      const tariffId = (await seller.get(`/v1/customers/${buyer.id}`).expect(200)).body.tariffId;
      await seller.post(`/v1/tariffs/${tariffId}/rates`, { prefix: '1', price: '0.1', effectiveFrom: '2020-01-01T00:00:00.000Z' }).expect(201);
    }
    const mine = await victimOf('own', x);
    const sibling = await victimOf('sibling', x, mine.tariffId);
    const parent = await victimOf('parent', p);
    own = { accountId: mine.accountId, callId: mine.callId, tariffId: mine.tariffId };
    const username = (await x.get(`/v1/accounts/${mine.accountId}`).expect(200)).body.username;
    const login = await t.http().post('/v1/auth/account-login').send({ username, password: 'web-password-1' }).expect(200);
    token = login.body.accessToken;
    victims.push({ name: 'its customer', ...mine, accountId: sibling.accountId, callId: sibling.callId });
    victims.push({ name: 'its sibling account', ...sibling });
    victims.push({ name: 'its customer’s parent', ...parent });
    victims.push({ name: 'itself', ...mine });
    foreign.push(x.login, p.login, p.id, mine.apiKeyId, mine.webhookId, sibling.accountId, sibling.callId, sibling.apiKeyId, ...Object.values(parent));
  });
  afterAll(() => t.close());

  it('covers every authenticated operation of the contract', () => {
    const uncovered = operations.filter(({ op }) => op.requestBody && !BODIES[op.operationId] && !ACCOUNT_BODIES[op.operationId] && op.operationId !== 'logout');
    // Operations with a body and no id answer the account principal before reading the body (403).
    expect(uncovered.filter(({ route }) => route.includes('{')).map(({ op }) => op.operationId)).toEqual([]);
    expect(operations.length).toBeGreaterThan(55);
  });

  const leaks = (text: string) => foreign.filter((marker) => text.includes(marker));

  it('answers 403 or 404 — or its own data where it is let in — and changes nothing', async () => {
    const before = await snapshot(t, tables);
    const failures = await sweep(t, accountA, victims, (op, res) => {
      if (res.status === 403 || res.status === 404) return res.problem ? undefined : `${res.status} without a problem body`;
      // updateMe: what its customer controls is refused, nothing written.
      if (op.operationId === 'updateMe' && res.status === 400 && res.problem) return undefined;
      if (res.status === 200 && OPEN_TO_ACCOUNTS.has(op.operationId)) {
        const leaked = leaks(res.text);
        return leaked.length ? `200 holding ${leaked.join(', ')}` : undefined;
      }
      return `${res.status} ${res.text.slice(0, 200)}`;
    });
    expect(failures).toEqual([]);
    expect(await snapshot(t, tables)).toEqual(before);
  });

  it('deny by construction: with every route opened to it (the data alone), still no one else’s data, no 5xx, nothing changed', async () => {
    // The guard's list is the first lock; this opens it for the whole contract to show the
    // second: an account principal matches no customer row, so features that do not know
    // about accounts answer 404s, 403s, 400s and empty lists.
    const added = operations
      .map(({ route, method }) => `${method.toUpperCase()} ${route.replace(/\{(\w+)\}/g, ':$1')}`)
      .filter((key) => !ACCOUNT_ROUTES.has(key));
    const routes = ACCOUNT_ROUTES as Set<string>;
    for (const key of added) routes.add(key);
    const othersKeys = async () =>
      (await t.dataSource.query(`SELECT md5(coalesce(string_agg(k::text, '|' ORDER BY k::text), '')) AS h FROM idempotency_keys k WHERE caller_id <> $1`, [own.accountId]))[0].h;
    const before = await snapshot(t, tables);
    const othersBefore = await othersKeys();
    try {
      const failures = await sweep(t, accountA, victims, (_op, res) => {
        if (res.status >= 500) return `${res.status} ${res.text.slice(0, 200)}`;
        if (res.status >= 400) return res.problem ? undefined : `${res.status} without a problem body`;
        const leaked = leaks(res.text);
        if (leaked.length) return `${res.status} holding ${leaked.join(', ')}`;
        const body = JSON.parse(res.text || 'null') as { items?: unknown[] } | null;
        // A list that is not about itself (its calls, its ledger) is empty; the catalogue of permissions is reference data.
        if (body && Array.isArray(body.items) && body.items.length && !/"kind":"account"|"accountId"|"balanceAfter"|"name":"customers.create"/.test(res.text)) {
          return `${res.status} a list of ${body.items.length}: ${res.text.slice(0, 200)}`;
        }
        return undefined;
      });
      expect(failures).toEqual([]);
      // Its refused balance operations keep their answers under its own idempotency keys; nothing else changes.
      const { idempotency_keys: keysBefore, ...restBefore } = before;
      const { idempotency_keys: keysAfter, ...restAfter } = await snapshot(t, tables);
      expect(restAfter).toEqual(restBefore);
      void keysBefore;
      void keysAfter;
      expect(await othersKeys()).toBe(othersBefore);
    } finally {
      for (const key of added) routes.delete(key);
    }
  });

  it('reaches its own objects where it is let in', async () => {
    const get = (url: string) => t.http().get(url).set('Authorization', `Bearer ${token}`);
    expect((await get('/v1/me').expect(200)).body).toMatchObject({ kind: 'account', id: own.accountId });
    await get(`/v1/accounts/${own.accountId}`).expect(200);
    await get(`/v1/accounts/${own.accountId}/balance-operations`).expect(200);
    await get(`/v1/accounts/${own.accountId}/statement`).expect(200);
    expect((await get('/v1/calls').expect(200)).body.items.map((c: { id: string }) => c.id)).toEqual([own.callId]);
    await get(`/v1/calls/${own.callId}`).expect(200);
  });
});
