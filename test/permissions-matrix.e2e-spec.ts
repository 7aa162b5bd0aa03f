import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Spec } from './fuzz/openapi-arbitraries';
import { Actor, createCustomer, createTariff, login, loginRoot, uniqueName } from './setup/factories';
import { startTestApp, TestApp } from './setup/test-app';

/**
 * Every endpoint that needs a right, walked by a caller lacking it: 403 naming the right on
 * its own (visible) objects, and 404, not 403, on objects outside its subtree.
 */
const spec = JSON.parse(readFileSync(path.join(__dirname, '../openapi/openapi.json'), 'utf8')) as Spec;
/** Operations any authenticated caller may use on what it sees (reads, self-service, sessions). */
const NO_RIGHT_NEEDED = new Set(['logout', 'updateMe', 'login', 'accountLogin', 'refresh', 'exchangeApiKey', 'lookupRate']);
/** Operations whose rights are checked per item (SPEC §6, batches): walked by their own test below. */
const PER_ITEM = new Set(['createBalanceOperationBatch']);

interface Objects {
  customer: string;
  tariff: string;
  rate: string;
  account: string;
  apiKey: string;
  routingGroup: string;
  webhook: string;
}

type Row = [operationId: string, method: 'get' | 'post' | 'put' | 'patch' | 'delete', url: (o: Objects) => string, right: string, body?: (o: Objects) => object | string];

const CSV = 'prefix,price,firstInterval,nextInterval,connectFee,effectiveFrom\n1,0.1,1,1,0,2020-01-01T00:00:00.000Z\n';
const TABLE: Row[] = [
  ['createCustomer', 'post', () => '/v1/customers', 'customers.create', (o) => ({ name: uniqueName(), tariffId: o.tariff, webLogin: uniqueName(), webPassword: 'password-1' })],
  ['updateCustomer', 'patch', (o) => `/v1/customers/${o.customer}`, 'customers.update', () => ({ name: 'renamed' })],
  ['deleteCustomer', 'delete', (o) => `/v1/customers/${o.customer}`, 'customers.delete'],
  ['createAccount', 'post', () => '/v1/accounts', 'accounts.create', (o) => ({ username: uniqueName(), webPassword: 'password-1', voipPassword: 'voip-pass-1', tariffId: o.tariff })],
  ['createAccountBatch', 'post', (o) => `/v1/customers/${o.customer}/account-batches`, 'accounts.create', (o) => ({ count: 2, usernamePrefix: `${uniqueName()}-`, tariffId: o.tariff })],
  ['updateAccount', 'patch', (o) => `/v1/accounts/${o.account}`, 'accounts.update', () => ({ maxSessions: 3 })],
  ['deleteAccount', 'delete', (o) => `/v1/accounts/${o.account}`, 'accounts.delete'],
  ['createTariff', 'post', () => '/v1/tariffs', 'tariffs.manage', () => ({ name: uniqueName(), currency: 'USD' })],
  ['updateTariff', 'patch', (o) => `/v1/tariffs/${o.tariff}`, 'tariffs.manage', () => ({ description: 'x' })],
  ['deleteTariff', 'delete', (o) => `/v1/tariffs/${o.tariff}`, 'tariffs.manage'],
  ['createRate', 'post', (o) => `/v1/tariffs/${o.tariff}/rates`, 'tariffs.manage', () => ({ prefix: '7', price: '0.1' })],
  ['uploadRateDeck', 'put', (o) => `/v1/tariffs/${o.tariff}/rates`, 'tariffs.manage', () => CSV],
  ['updateRate', 'patch', (o) => `/v1/tariffs/${o.tariff}/rates/${o.rate}`, 'tariffs.manage', () => ({ price: '0.2' })],
  ['deleteRate', 'delete', (o) => `/v1/tariffs/${o.tariff}/rates/${o.rate}`, 'tariffs.manage'],
  ['setExchangeRate', 'put', (o) => `/v1/exchange-rates/EUR?customerId=${o.customer}`, 'exchange-rates.manage', () => ({ rate: '1.1' })],
  ['deleteExchangeRate', 'delete', (o) => `/v1/exchange-rates/GBP?customerId=${o.customer}`, 'exchange-rates.manage'],
  ['createCustomerBalanceOperation', 'post', (o) => `/v1/customers/${o.customer}/balance-operations`, 'balances.operate', () => ({ action: 'credit', amount: '1' })],
  ['createAccountBalanceOperation', 'post', (o) => `/v1/accounts/${o.account}/balance-operations`, 'balances.operate', () => ({ action: 'credit', amount: '1' })],
  ['replaceCustomerPermissions', 'put', (o) => `/v1/customers/${o.customer}/permissions`, 'permissions.grant', () => ({ permissions: [] })],
  ['createApiKey', 'post', () => '/v1/api-keys', 'api-keys.manage', () => ({ name: 'k' })],
  ['revokeApiKey', 'delete', (o) => `/v1/api-keys/${o.apiKey}`, 'api-keys.manage'],
  ['getSystemSettings', 'get', () => '/v1/system/settings', 'system.read'],
  ['updateSystemSettings', 'patch', () => '/v1/system/settings', 'system.write', () => ({ maxDepth: 12 })],
  ['listRoutingGroups', 'get', () => '/v1/routing-groups', 'system.read'],
  ['createRoutingGroup', 'post', () => '/v1/routing-groups', 'system.write', () => ({ name: uniqueName(), policy: 'priority' })],
  ['getRoutingGroup', 'get', (o) => `/v1/routing-groups/${o.routingGroup}`, 'system.read'],
  ['updateRoutingGroup', 'patch', (o) => `/v1/routing-groups/${o.routingGroup}`, 'system.write', () => ({ policy: 'weighted' })],
  ['deleteRoutingGroup', 'delete', (o) => `/v1/routing-groups/${o.routingGroup}`, 'system.write'],
  ['createWebhookEndpoint', 'post', () => '/v1/webhook-endpoints', 'webhooks.manage', () => ({ url: 'https://93.184.215.14/hooks', events: ['balance.low'] })],
  ['updateWebhookEndpoint', 'patch', (o) => `/v1/webhook-endpoints/${o.webhook}`, 'webhooks.manage', () => ({ description: 'x' })],
  ['deleteWebhookEndpoint', 'delete', (o) => `/v1/webhook-endpoints/${o.webhook}`, 'webhooks.manage'],
  ['sendWebhookTest', 'post', (o) => `/v1/webhook-endpoints/${o.webhook}/test`, 'webhooks.manage'],
  ['authorizeCall', 'post', () => '/v1/calls/authorize', 'usage.post', (o) => ({ accountId: o.account, number: '4420' })],
  ['postCalls', 'post', () => '/v1/calls', 'usage.post', (o) => ({ calls: [{ callId: 'c-1', accountId: o.account, number: '441', connectTime: '2026-01-01T00:00:00Z', duration: 1 }] })],
];

describe('permissions: every endpoint that needs a right', () => {
  let t: TestApp;
  let y: Actor;
  let own: Objects;
  let foreign: Objects;

  async function objectsOf(t: TestApp, owner: Actor, routingGroup: string): Promise<Objects> {
    const tariff = await createTariff(owner);
    const child = await createCustomer(t, owner, { tariffId: tariff });
    const rate = await owner.post(`/v1/tariffs/${tariff}/rates`, { prefix: '44', price: '0.5' }).expect(201);
    const account = await owner.post('/v1/accounts', { username: uniqueName(), webPassword: 'password-1', voipPassword: 'voip-pass-1', tariffId: tariff }).expect(201);
    const key = await owner.post('/v1/api-keys', { name: 'own' }).expect(201);
    await owner.put(`/v1/exchange-rates/GBP?customerId=${child.id}`, { rate: '1.3' }).expect(200);
    const ownTariff = await createTariff(owner);
    const webhook = await owner.post('/v1/webhook-endpoints', { url: 'https://93.184.215.14/hooks', events: ['balance.low'] }).expect(201);
    return { customer: child.id, tariff: ownTariff, rate: rate.body.id, account: account.body.id, apiKey: key.body.id, routingGroup, webhook: webhook.body.id };
  }

  beforeAll(async () => {
    t = await startTestApp({ RATE_LIMIT_EXPENSIVE_PER_MINUTE: '100000' });
    const root = await loginRoot(t);
    const group = await root.post('/v1/routing-groups', { name: 'g', policy: 'priority' }).expect(201);
    const a = await createCustomer(t, root);
    const b = await createCustomer(t, root);
    y = await createCustomer(t, a);
    own = await objectsOf(t, y, group.body.id);
    // Rates live in `tariff`; keep the rate in the tariff that the rows address.
    const rateTariff = (await t.dataSource.query(`SELECT tariff_id FROM rates WHERE id = $1`, [own.rate]))[0].tariff_id;
    own.tariff = rateTariff;
    foreign = await objectsOf(t, b, group.body.id);
    foreign.tariff = (await t.dataSource.query(`SELECT tariff_id FROM rates WHERE id = $1`, [foreign.rate]))[0].tariff_id;
    await a.put(`/v1/customers/${y.id}/permissions`, { permissions: [] }).expect(200);
    y = await login(t, y.login, y.password);
    expect((await y.get('/v1/me').expect(200)).body.permissions).toEqual([]);
  });
  afterAll(() => t.close());

  it('lists every operation that needs a right', () => {
    const METHODS = ['post', 'put', 'patch', 'delete'] as const;
    const writes = Object.values(spec.paths).flatMap((item) => METHODS.filter((m) => item[m]).map((m) => item[m]!.operationId));
    const covered = new Set(TABLE.map((row) => row[0]));
    expect(writes.filter((id) => !covered.has(id) && !NO_RIGHT_NEEDED.has(id) && !PER_ITEM.has(id))).toEqual([]);
  });

  it('createBalanceOperationBatch: each item refused naming the right on its own objects, 404 on objects outside its subtree, nothing written', async () => {
    const res = await t
      .http()
      .post('/v1/balance-operations/batch')
      .set('Authorization', `Bearer ${y.token}`)
      .set('Idempotency-Key', randomUUID())
      .send({
        operations: [
          { customerId: own.customer, action: 'credit', amount: '1' },
          { accountId: own.account, action: 'credit', amount: '1' },
          { customerId: foreign.customer, action: 'credit', amount: '1' },
          { accountId: foreign.account, action: 'credit', amount: '1' },
        ],
      });
    expect(res.status).toBe(422);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body.errors.map((e: { pointer: string; status?: number; type: string; permission?: string }) => [e.pointer, e.type.split('/').pop(), e.permission])).toEqual([
      ['/operations/0', 'permission-denied', 'balances.operate'],
      ['/operations/1', 'permission-denied', 'balances.operate'],
      ['/operations/2', 'not-found', undefined],
      ['/operations/3', 'not-found', undefined],
    ]);
    const entries = await t.dataSource.query(`SELECT count(*)::int AS n FROM ledger_entries WHERE customer_id = $1 OR account_id = $2`, [own.customer, own.account]);
    expect(entries[0].n).toBe(0);
  });

  it.each(TABLE.map((row) => [row[0], row] as const))('%s: 403 naming the right on its own objects', async (_id, [, method, url, right, body]) => {
    let request = t.http()[method](url(own)).set('Authorization', `Bearer ${y.token}`).set('Idempotency-Key', randomUUID());
    const payload = body?.(own);
    if (typeof payload === 'string') request = request.set('content-type', 'text/csv').send(payload);
    else if (payload) request = request.send(payload);
    const res = await request;
    expect({ status: res.status, permission: res.body.permission }).toEqual({ status: 403, permission: right });
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  });

  it.each(TABLE.filter((row) => !row[3].startsWith('system.') && /\$\{o\./.test(row[2].toString())).map((row) => [row[0], row] as const))(
    '%s: 404, not 403, on objects outside its subtree',
    async (_id, [, method, url, , body]) => {
      let request = t.http()[method](url(foreign)).set('Authorization', `Bearer ${y.token}`).set('Idempotency-Key', randomUUID());
      const payload = body?.(foreign);
      if (typeof payload === 'string') request = request.set('content-type', 'text/csv').send(payload);
      else if (payload) request = request.send(payload);
      const res = await request;
      expect(res.status).toBe(404);
    },
  );
});
