import { readFileSync } from 'node:fs';
import path from 'node:path';
import { EXAMPLES } from '../src/common/openapi/examples';
import { TAGS } from '../src/common/openapi/tags';
import { login, loginRoot } from './setup/factories';
import { startTestApp, TestApp } from './setup/test-app';

/**
 * Swagger UI as a first stop (issue 15, part 7), checked on the committed openapi/openapi.json
 * (`npm run openapi:check` keeps it equal to what the code builds): the tags in the order a
 * portal developer meets them, and an example request and response on every operation, so
 * that a new operation cannot forget them; and the hand-written examples, sent to the real API,
 * work. Whether each example matches its schema is `npm run openapi:lint`'s part
 * (no-invalid-media-type-examples).
 */
type Schema = {
  $ref?: string;
  allOf?: Schema[];
  oneOf?: Schema[];
  anyOf?: Schema[];
  properties?: Record<string, Schema>;
  items?: Schema;
  additionalProperties?: unknown;
};
type Media = { schema?: Schema; example?: unknown; examples?: Record<string, unknown> };
type Operation = {
  operationId: string;
  tags?: string[];
  requestBody?: { content: Record<string, Media> };
  responses: Record<string, { content?: Record<string, Media> }>;
};
type Document = { tags?: Array<{ name: string; description?: string }>; paths: Record<string, Record<string, Operation>>; components: { schemas: Record<string, Schema> } };

const document = JSON.parse(readFileSync(path.resolve(__dirname, '../openapi/openapi.json'), 'utf8')) as Document;
const METHODS = new Set(['get', 'put', 'post', 'delete', 'patch', 'options', 'head', 'trace']);
const operations = Object.entries(document.paths).flatMap(([p, item]) =>
  Object.entries(item)
    .filter(([method]) => METHODS.has(method))
    .map(([method, operation]) => ({ where: `${method.toUpperCase()} ${p} (${operation.operationId})`, operation })),
);
const hasExample = (media: Media) => media.example !== undefined || (media.examples !== undefined && Object.keys(media.examples).length > 0);

/** The fields of `example` that its schema does not declare (a typo, a renamed field), as JSON pointers. */
function undeclared(example: unknown, schema: Schema | undefined, pointer = ''): string[] {
  if (!schema || example === null || typeof example !== 'object') return [];
  if (schema.$ref) return undeclared(example, document.components.schemas[schema.$ref.replace('#/components/schemas/', '')], pointer);
  if (schema.allOf) {
    const merged: Schema = { properties: Object.assign({}, ...schema.allOf.map((s) => resolve(s).properties ?? {})) };
    return undeclared(example, merged, pointer);
  }
  if (Array.isArray(example)) return example.flatMap((item, i) => undeclared(item, schema.items, `${pointer}/${i}`));
  if (!schema.properties || schema.additionalProperties) return [];
  return Object.entries(example as Record<string, unknown>).flatMap(([key, value]) =>
    key in schema.properties! ? undeclared(value, schema.properties![key], `${pointer}/${key}`) : [`${pointer}/${key}`],
  );
}
const resolve = (s: Schema): Schema => (s.$ref ? resolve(document.components.schemas[s.$ref.replace('#/components/schemas/', '')]) : s);

describe('OpenAPI document: tags in the order a portal developer meets them', () => {
  it('declares the tags, with descriptions, starting auth, me, customers, accounts, tariffs, rates, exchange-rates, balances, calls, events, webhooks', () => {
    const declared = (document.tags ?? []).map((t) => t.name);
    expect(declared.slice(0, 11)).toEqual(['auth', 'me', 'customers', 'accounts', 'tariffs', 'rates', 'exchange-rates', 'balances', 'calls', 'events', 'webhooks']);
    expect(declared).toEqual(TAGS.map((t) => t.name).filter((name) => declared.includes(name)));
    expect((document.tags ?? []).filter((t) => !t.description).map((t) => t.name)).toEqual([]);
  });

  it('every tag an operation carries is declared in src/common/openapi/tags.ts, and every operation has one', () => {
    const declared = new Set(TAGS.map((t) => t.name));
    const missing = operations.filter(({ operation }) => !operation.tags?.length || operation.tags.some((t) => !declared.has(t)));
    expect(missing.map(({ where, operation }) => `${where}: ${JSON.stringify(operation.tags ?? [])}`)).toEqual([]);
  });

  it('the file lists the operations tag by tag, in the declared order (as Swagger UI does)', () => {
    const order = (document.tags ?? []).map((t) => t.name);
    const seen = operations.map(({ operation }) => order.indexOf(operation.tags![0]));
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
    const firstOfEach = [...new Set(operations.map(({ operation }) => operation.tags![0]))];
    expect(firstOfEach).toEqual(order);
  });

  it('within a tag, operations come in the order of use: log in first, a collection before its items, one path reads before it writes', () => {
    const customers = operations.filter(({ operation }) => operation.tags?.includes('customers')).map(({ operation }) => operation.operationId);
    expect(customers.slice(0, 5)).toEqual(['listCustomers', 'createCustomer', 'getCustomer', 'updateCustomer', 'deleteCustomer']);
    const inTag = (tag: string) => operations.filter(({ operation }) => operation.tags?.includes(tag)).map(({ operation }) => operation.operationId);
    expect(inTag('auth').slice(0, 3)).toEqual(['login', 'refresh', 'exchangeApiKey']);
    expect(inTag('auth').at(-1)).toBe('logout');
    expect(inTag('balances').slice(0, 2)).toEqual(['listCustomerBalanceOperations', 'createCustomerBalanceOperation']);
    expect(inTag('calls').slice(0, 3)).toEqual(['authorizeCall', 'listCalls', 'postCalls']);
    expect(operations[0].operation.operationId).toBe('login');
  });
});

describe('OpenAPI document: an example request and response on every operation', () => {
  it('every request body has an example for each of its media types', () => {
    const missing = operations.flatMap(({ where, operation }) =>
      Object.entries(operation.requestBody?.content ?? {})
        .filter(([, media]) => !hasExample(media))
        .map(([type]) => `${where} request ${type}`),
    );
    expect(missing).toEqual([]);
    expect(operations.filter(({ operation }) => operation.requestBody).length).toBeGreaterThan(20);
  });

  it('every operation has a success response, and every success response with a body has an example for each media type', () => {
    const missing: string[] = [];
    for (const { where, operation } of operations) {
      const successes = Object.entries(operation.responses).filter(([status]) => /^2\d\d$/.test(status));
      if (!successes.length) missing.push(`${where}: no success response`);
      for (const [status, response] of successes) {
        for (const [type, media] of Object.entries(response.content ?? {})) if (!hasExample(media)) missing.push(`${where} ${status} ${type}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('the hand-written examples name operations that exist and only fields their schemas declare', () => {
    const byId = new Map(operations.map(({ operation }) => [operation.operationId, operation]));
    const problems: string[] = [];
    for (const [id, example] of Object.entries(EXAMPLES)) {
      const operation = byId.get(id);
      if (!operation) {
        problems.push(`${id}: no such operation`);
        continue;
      }
      const body = operation.requestBody?.content['application/json'];
      if (example.request !== undefined) {
        if (!body) problems.push(`${id}: a request example, but no JSON request body`);
        else problems.push(...undeclared(example.request, body.schema).map((p) => `${id} request ${p}`));
      }
      if (example.response !== undefined) {
        const success = Object.entries(operation.responses).find(([status]) => /^2\d\d$/.test(status))?.[1].content?.['application/json'];
        if (!success) problems.push(`${id}: a response example, but no JSON success response`);
        else problems.push(...undeclared(example.response, success.schema).map((p) => `${id} response ${p}`));
      }
    }
    expect(problems).toEqual([]);
  });

  it('the operations a portal developer meets first carry the hand-written examples', () => {
    const byId = new Map(operations.map(({ operation }) => [operation.operationId, operation]));
    for (const id of ['login', 'getMe', 'createCustomer', 'listCustomers', 'createAccount', 'createCustomerBalanceOperation', 'createBalanceOperationBatch', 'postCalls', 'getUsage', 'listEvents']) {
      expect({ id, handWritten: id in EXAMPLES }).toEqual({ id, handWritten: true });
    }
    const login = byId.get('login')!;
    expect(login.requestBody!.content['application/json'].example).toEqual(EXAMPLES.login.request);
    expect(login.responses['200'].content!['application/json'].example).toEqual(EXAMPLES.login.response);
    // A hand-written response is completed with the required fields it leaves out.
    const created = byId.get('createCustomer')!.responses['201'].content!['application/json'].example as Record<string, unknown>;
    expect(created).toMatchObject({ name: 'Acme Telecom', webLogin: 'acme-admin' });
    const required = (resolve(byId.get('createCustomer')!.responses['201'].content!['application/json'].schema!) as { required?: string[] }).required ?? [];
    expect(required.filter((field) => !(field in created))).toEqual([]);
  });
});

/** Pointers of the fields `example` shows that `real` lacks (arrays: each example item against the first real one). */
function shownButAbsent(example: unknown, real: unknown, pointer = ''): string[] {
  if (Array.isArray(example)) return Array.isArray(real) && real.length ? example.flatMap((item, i) => shownButAbsent(item, real[0], `${pointer}/${i}`)) : [];
  if (!example || typeof example !== 'object' || !real || typeof real !== 'object') return [];
  return Object.entries(example as Record<string, unknown>).flatMap(([key, value]) => {
    if (!(key in (real as Record<string, unknown>))) return [`${pointer}/${key}`];
    // An event's `data` depends on its type: its fields are not compared.
    return key === 'data' ? [] : shownButAbsent(value, (real as Record<string, unknown>)[key], `${pointer}/${key}`);
  });
}

describe('OpenAPI document: the hand-written examples work against the real API', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    await t?.close();
  });

  /** The operation's documented success status and the example it shows (as completed in the document). */
  function documented(id: string): { status: number; example: unknown } {
    const operation = operations.find(({ operation: o }) => o.operationId === id)!.operation;
    const [status, response] = Object.entries(operation.responses).find(([s]) => /^2\d\d$/.test(s))!;
    return { status: Number(status), example: response.content?.['application/json']?.example };
  }

  /** Sends the example request of `id` (ids replaced by real ones) and checks the answer against the example response. */
  async function send(id: string, call: () => Promise<{ status: number; body: unknown }>): Promise<Record<string, unknown>> {
    const res = await call();
    const { status, example } = documented(id);
    expect({ id, status: res.status, body: res.status === status ? 'as documented' : res.body }).toEqual({ id, status, body: 'as documented' });
    // A sampled example shows every optional field; a hand-written one only what is really there.
    if (EXAMPLES[id].response !== undefined) expect({ id, shownButAbsent: shownButAbsent(example, res.body) }).toEqual({ id, shownButAbsent: [] });
    return res.body as Record<string, unknown>;
  }

  it('login, me, tariffs, rates, customers, accounts, balance operations, batches, calls, events: each example request is accepted and answers the fields its example shows', async () => {
    const root = await loginRoot(t);
    const request = <T>(id: string) => EXAMPLES[id].request as T;

    const rootTariff = await send('createTariff', () => root.post('/v1/tariffs', request('createTariff')));
    await send('createRate', () => root.post(`/v1/tariffs/${rootTariff.id as string}/rates`, request('createRate')));
    const acme = await send('createCustomer', () => root.post('/v1/customers', { ...request<object>('createCustomer'), tariffId: rootTariff.id }));
    await send('listCustomers', () => root.get('/v1/customers'));

    const tokens = await send('login', () => t.http().post('/v1/auth/login').send(request('login')));
    await send('refresh', () => t.http().post('/v1/auth/refresh').send({ refreshToken: tokens.refreshToken }));
    const asAcme = await login(t, EXAMPLES.login.request!['login' as never], EXAMPLES.login.request!['password' as never]);
    await send('getMe', () => asAcme.get('/v1/me'));
    await send('updateMe', () => asAcme.patch('/v1/me', request('updateMe')));

    const acmeTariff = await send('createTariff', () => asAcme.post('/v1/tariffs', request('createTariff')));
    await send('createRate', () => asAcme.post(`/v1/tariffs/${acmeTariff.id as string}/rates`, request('createRate')));
    const account = await send('createAccount', () =>
      asAcme.post('/v1/accounts', { ...request<object>('createAccount'), customerId: acme.id, tariffId: acmeTariff.id }),
    );

    await send('createCustomerBalanceOperation', () =>
      root.post(`/v1/customers/${acme.id as string}/balance-operations`, request('createCustomerBalanceOperation')).set('Idempotency-Key', 'payment-2026-0001'),
    );
    await send('createAccountBalanceOperation', () =>
      asAcme.post(`/v1/accounts/${account.id as string}/balance-operations`, request('createAccountBalanceOperation')).set('Idempotency-Key', 'shop-0042'),
    );
    const batch = request<{ operations: Array<Record<string, unknown>> }>('createBalanceOperationBatch');
    const operationsWithIds = batch.operations.map((op) => ({ ...op, ...(op.customerId ? { customerId: acme.id } : { accountId: account.id }) }));
    await send('createBalanceOperationBatch', () => root.post('/v1/balance-operations/batch', { operations: operationsWithIds }).set('Idempotency-Key', 'batch-2026-03-01'));

    await send('setExchangeRate', () => root.put('/v1/exchange-rates/EUR', request('setExchangeRate')));
    await send('authorizeCall', () => root.post('/v1/calls/authorize', { ...request<object>('authorizeCall'), accountId: account.id }));
    const calls = request<{ calls: Array<Record<string, unknown>> }>('postCalls').calls.map((call) => ({ ...call, accountId: account.id }));
    await send('postCalls', async () => {
      const res = await root.post('/v1/calls', { calls });
      expect(res.body.items).toEqual([expect.objectContaining({ status: 'rated' })]);
      return res;
    });
    await send('getUsage', () => asAcme.get('/v1/usage?from=2026-03-01&to=2026-03-31&groupBy=account'));
    // The feed shows an event shortly after its commit (the relay): wait for Acme's first ones.
    const deadline = Date.now() + 15000;
    while ((await asAcme.get('/v1/events?limit=1')).body.items?.length !== 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await send('listEvents', () => asAcme.get('/v1/events'));

    const key = await send('createApiKey', () => asAcme.post('/v1/api-keys', request('createApiKey')));
    await send('exchangeApiKey', () => t.http().post('/v1/auth/token').send({ apiKey: key.apiKey }));
  });

  it('the problem examples of 401, 404, 412 and 413 show the type, title and status the API answers', async () => {
    const root = await loginRoot(t);
    const problemOf = (id: string, status: number) => {
      const operation = operations.find(({ operation: o }) => o.operationId === id)!.operation;
      const example = operation.responses[String(status)].content!['application/problem+json'].example as Record<string, unknown>;
      return { type: example.type, title: example.title, status: example.status };
    };
    const answered = (res: { body: Record<string, unknown> }) => ({ type: res.body.type, title: res.body.title, status: res.body.status });

    expect(answered(await t.http().get('/v1/me'))).toEqual(problemOf('getMe', 401));
    expect(answered(await root.get('/v1/customers/6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f'))).toEqual(problemOf('getCustomer', 404));
    expect(answered(await root.patch('/v1/me', { timeZone: 'UTC' }).set('If-Match', '"999"'))).toEqual(problemOf('updateMe', 412));
    expect(answered(await root.post('/v1/customers', { name: 'x'.repeat(1024 * 1024 + 1) }))).toEqual(problemOf('createCustomer', 413));
  });
});
