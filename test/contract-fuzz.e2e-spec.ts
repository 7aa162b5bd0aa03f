import fc from 'fast-check';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { bodyArbitrary, HOSTILE_STRINGS, Operation, queryArbitrary, Spec } from './fuzz/openapi-arbitraries';
import { ResponseValidator } from './fuzz/response-validator';
import { Actor, createCustomer, createTariff, loginRoot } from './setup/factories';
import { startTestApp, TestApp } from './setup/test-app';

/**
 * Contract fuzzing: every operation of openapi/openapi.json gets generated valid and hostile
 * requests as an authenticated customer. Zero 5xx; every error is problem+json; every 2xx
 * body matches its response schema. `npm run fuzz` runs it long (FUZZ_RUNS).
 */
const spec = JSON.parse(readFileSync(path.join(__dirname, '../openapi/openapi.json'), 'utf8')) as Spec;
const RUNS = Number(process.env.FUZZ_RUNS ?? 8);
const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;
const operations = Object.entries(spec.paths).flatMap(([route, item]) =>
  METHODS.filter((m) => item[m]).map((method) => ({ route, method, op: item[method] as Operation })),
);

describe('contract fuzzing', () => {
  let t: TestApp;
  let caller: Actor;
  const ids: string[] = [];
  const validator = new ResponseValidator(spec);

  beforeAll(async () => {
    t = await startTestApp({ RATE_LIMIT_EXPENSIVE_PER_MINUTE: '100000', LOGIN_MAX_FAILURES: '1000' });
    const root = await loginRoot(t);
    caller = await createCustomer(t, root, { balance: '100', creditLimit: '50' });
    const child = await createCustomer(t, caller, { balance: '5' });
    const tariffId = await createTariff(caller);
    const key = await caller.post('/v1/api-keys', { name: 'fuzz' }).expect(201);
    ids.push(caller.id, child.id, tariffId, key.body.id, root.id, randomUUID());
  });
  afterAll(() => t.close());

  it.each(operations.map((o) => [`${o.method.toUpperCase()} ${o.route}`, o] as const))('%s', async (_name, { route, method, op }) => {
    const pathParams = (op.parameters ?? []).filter((p) => p.in === 'path');
    const paramArb = fc.record(
      Object.fromEntries(
        pathParams.map((p) => [
          p.name,
          p.name === 'currency'
            ? fc.constantFrom('EUR', 'USD', 'GBP', 'XYZ', 'eur', '€€€', ...HOSTILE_STRINGS.slice(0, 4))
            : fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...ids) }, { weight: 1, arbitrary: fc.constantFrom('not-a-uuid', 'x'.repeat(300), '%00', '..') }),
        ]),
      ),
    );
    const jsonSchema = op.requestBody?.content['application/json']?.schema;
    const csv = op.requestBody?.content['text/csv'];
    const bodyArb: fc.Arbitrary<unknown> = jsonSchema
      ? bodyArbitrary(spec, jsonSchema)
      : csv
        ? fc.oneof(fc.string(), fc.constantFrom('prefix,price,firstInterval,nextInterval,connectFee,effectiveFrom\n1,0.1,1,1,0,2020-01-01T00:00:00.000Z\n', 'a,b\n"unclosed'))
        : fc.constant(undefined);
    const keyArb = fc.oneof(fc.uuid(), fc.constant(undefined), fc.constantFrom('', 'x'.repeat(300), 'bad key with spaces'));

    await fc.assert(
      fc.asyncProperty(paramArb, queryArbitrary(spec, op), bodyArb, keyArb, async (params, query, body, idempotencyKey) => {
        const url =
          route.replace(/\{(\w+)\}/g, (_m, name: string) => encodeURIComponent(String((params as Record<string, string>)[name]))) +
          (Object.keys(query).length ? `?${new URLSearchParams(query)}` : '');
        let request = t.http()[method](url).set('Authorization', `Bearer ${caller.token}`);
        if (idempotencyKey !== undefined) request = request.set('Idempotency-Key', idempotencyKey);
        if (body !== undefined) {
          request = csv ? request.set('content-type', 'text/csv').send(String(body)) : request.set('content-type', 'application/json').send(JSON.stringify(body));
        }
        const res = await request;
        const context = `${method.toUpperCase()} ${url} ${JSON.stringify(body)?.slice(0, 300)} → ${res.status} ${res.text?.slice(0, 300)}`;
        if (res.status >= 500) throw new Error(`5xx: ${context}`);
        if (res.status >= 400) {
          if (!/^application\/problem\+json/.test(res.headers['content-type'] ?? '')) throw new Error(`not problem+json: ${context}`);
          if (res.body.status !== res.status || typeof res.body.type !== 'string' || typeof res.body.title !== 'string') {
            throw new Error(`bad problem body: ${context}`);
          }
          return;
        }
        const schema = op.responses[String(res.status)]?.content?.['application/json']?.schema;
        if (schema && /json/.test(res.headers['content-type'] ?? '')) {
          const error = validator.check(`${op.operationId}:${res.status}`, schema, res.body);
          if (error) throw new Error(`response does not match its schema (${error}): ${context}`);
        }
      }),
      { numRuns: RUNS },
    );
  });
});
