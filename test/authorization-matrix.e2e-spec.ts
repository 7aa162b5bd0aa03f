import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Operation, Spec } from './fuzz/openapi-arbitraries';
import { Actor, createCustomer, createTariff, loginRoot, uniqueName } from './setup/factories';
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

interface Victim {
  name: string;
  customer: Actor;
  tariffId: string;
  rateId: string;
  accountId: string;
  apiKeyId: string;
  webhookId: string;
}

const targets = Object.entries(spec.paths).flatMap(([route, item]) =>
  METHODS.filter((m) => item[m]).flatMap((method) => {
    const op = item[method] as Operation;
    const query = (op.parameters ?? []).filter((p) => p.in === 'query' && OWNER_QUERY.includes(p.name)).map((p) => p.name);
    const addressed = route.includes('{') || query.length > 0;
    return addressed && !SYSTEM_WIDE.test(route) ? [{ route, method, op, ownerQuery: query }] : [];
  }),
);

describe('object-level authorization matrix', () => {
  let t: TestApp;
  let x: Actor;
  const victims: Victim[] = [];

  async function snapshot(): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const table of TABLES) {
      const [row] = await t.dataSource.query(`SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) AS h FROM ${table} t`);
      out[table] = row.h;
    }
    return out;
  }

  beforeAll(async () => {
    t = await startTestApp({ RATE_LIMIT_EXPENSIVE_PER_MINUTE: '100000' });
    const root = await loginRoot(t);
    const p = await createCustomer(t, root, { name: 'P' });
    const u = await createCustomer(t, root, { name: 'U' });
    x = await createCustomer(t, p, { name: 'X' });
    const s = await createCustomer(t, p, { name: 'S' });
    const k = await createCustomer(t, u, { name: 'K' });
    for (const [name, customer] of [['parent', p], ['sibling', s], ['cousin', k]] as const) {
      const tariffId = await createTariff(customer);
      const rate = await customer.post(`/v1/tariffs/${tariffId}/rates`, { prefix: '44', price: '0.5', effectiveFrom: '2020-01-01T00:00:00.000Z' }).expect(201);
      const account = await customer
        .post('/v1/accounts', { username: uniqueName('acct'), webPassword: 'password-1', voipPassword: 'voip-secret-1', tariffId })
        .expect(201);
      const key = await customer.post('/v1/api-keys', { name: 'victim' }).expect(201);
      await customer.put('/v1/exchange-rates/EUR', { rate: '1.5' }).expect(200);
      const webhook = await customer.post('/v1/webhook-endpoints', { url: 'https://93.184.215.14/hooks', events: ['balance.low'] }).expect(201);
      victims.push({ name, customer, tariffId, rateId: rate.body.id, accountId: account.body.id, apiKeyId: key.body.id, webhookId: webhook.body.id });
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
    const before = await snapshot();
    const failures: string[] = [];
    for (const victim of victims) {
      for (const { route, method, op, ownerQuery } of targets) {
        const idFor = (name: string): string => {
          if (name === 'rateId') return victim.rateId;
          if (name === 'currency') return 'EUR';
          if (route.startsWith('/v1/accounts')) return victim.accountId;
          if (route.startsWith('/v1/tariffs')) return victim.tariffId;
          if (route.startsWith('/v1/api-keys')) return victim.apiKeyId;
          if (route.startsWith('/v1/webhook-endpoints')) return victim.webhookId;
          return victim.customer.id;
        };
        const extra = BODIES[op.operationId] ?? {};
        const query = new URLSearchParams({ ...(extra.query ?? {}), ...Object.fromEntries(ownerQuery.map((q) => [q, victim.customer.id])) });
        const url = route.replace(/\{(\w+)\}/g, (_m, name: string) => idFor(name)) + (query.size ? `?${query}` : '');
        let request = t.http()[method](url).set('Authorization', `Bearer ${x.token}`).set('Idempotency-Key', randomUUID());
        if (extra.csv) request = request.set('content-type', 'text/csv').send(extra.csv);
        else if (extra.body) request = request.send(extra.body as object);
        const res = await request;
        if (res.status !== 404 || !/^application\/problem\+json/.test(res.headers['content-type'] ?? '')) {
          failures.push(`${method.toUpperCase()} ${route} on ${victim.name}: ${res.status} ${res.text.slice(0, 200)}`);
        }
      }
    }
    expect(failures).toEqual([]);
    expect(await snapshot()).toEqual(before);
  });
});
