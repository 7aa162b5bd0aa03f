import { readFileSync } from 'node:fs';
import path from 'node:path';
import { EXAMPLES } from '../src/common/openapi/examples';
import { TAGS } from '../src/common/openapi/tags';

/**
 * Swagger UI as a first stop (issue 15, part 7), checked on the committed openapi/openapi.json
 * (`npm run openapi:check` keeps it equal to what the code builds): the tags in the order a
 * portal developer meets them, and an example request and response on every operation, so
 * that a new operation cannot forget them. Whether each example matches its schema is
 * `npm run openapi:lint`'s part (no-invalid-media-type-examples).
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

  it('within a tag, a collection comes before its items, and one path reads before it writes', () => {
    const customers = operations.filter(({ operation }) => operation.tags?.includes('customers')).map(({ operation }) => operation.operationId);
    expect(customers.slice(0, 5)).toEqual(['listCustomers', 'createCustomer', 'getCustomer', 'updateCustomer', 'deleteCustomer']);
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
