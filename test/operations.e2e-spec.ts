import { randomUUID } from 'node:crypto';
import { Actor, createCustomer, expectProblem, loginRoot } from './setup/factories';
import { startTestApp, TestApp } from './setup/test-app';

describe('operations: metrics, security headers, rate limits', () => {
  let t: TestApp;
  let root: Actor;

  beforeAll(async () => {
    t = await startTestApp({ RATE_LIMIT_EXPENSIVE_PER_MINUTE: '3', METRICS_TOKEN: 'metrics-token-0123456789' });
    root = await loginRoot(t);
  });
  afterAll(() => t.close());

  it('serves Prometheus metrics by route template, pool and balance operations, behind METRICS_TOKEN', async () => {
    const c = await createCustomer(t, root);
    await root.get(`/v1/customers/${c.id}`).expect(200);
    await root.post(`/v1/customers/${c.id}/balance-operations`, { action: 'add_funds', amount: '1' }).set('Idempotency-Key', randomUUID()).expect(201);
    await root.post(`/v1/customers/${c.id}/balance-operations`, { action: 'debit', amount: '100' }).set('Idempotency-Key', randomUUID()).expect(422);
    expectProblem(await t.http().get('/metrics').expect(401), 401);
    const res = await t.http().get('/metrics').set('Authorization', 'Bearer metrics-token-0123456789').expect(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.text).toContain('canopy_http_requests_total{method="GET",route="/v1/customers/:id",status="200"}');
    expect(res.text).not.toContain(c.id);
    expect(res.text).toMatch(/canopy_http_request_duration_seconds_bucket\{le="0.005",method="GET",route="\/v1\/customers\/:id"\}/);
    // Every pool of connections: the main one, the point reads' lanes (the GET by id) and the generic plans' (a plain list).
    await c.get('/v1/customers').expect(200); // another caller than the rate-limit test's
    const after = (await t.http().get('/metrics').set('Authorization', 'Bearer metrics-token-0123456789').expect(200)).text;
    const count = (pool: string, state: string) => Number(new RegExp(`^canopy_db_pool_connections\\{pool="${pool}",state="${state}"\\} (\\d+)$`, 'm').exec(after)?.[1]);
    expect(count('main', 'total')).toBeGreaterThanOrEqual(1);
    expect(count('point-reads', 'total')).toBeGreaterThanOrEqual(1);
    expect(count('point-reads', 'waiting')).toBe(0);
    expect(count('generic-plans', 'total')).toBeGreaterThanOrEqual(1);
    expect(count('generic-plans', 'idle')).toBe(count('generic-plans', 'total'));
    expect(res.text).toContain('canopy_balance_operations_total{action="add_funds",outcome="applied"} 1');
    expect(res.text).toContain('canopy_balance_operations_total{action="debit",outcome="refused"} 1');
  });

  it('sends security headers', async () => {
    const res = await root.get('/v1/me').expect(200);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['content-security-policy']).toBe("default-src 'none'; frame-ancestors 'none'");
    expect(res.headers['strict-transport-security']).toBeDefined();
    expect(res.headers['x-powered-by']).toBeUndefined();
    const docs = await t.http().get('/docs').expect(200);
    expect(docs.headers['content-security-policy']).toBeUndefined();
  });

  it('rate limits expensive endpoints per caller with 429 and Retry-After', async () => {
    const other = await createCustomer(t, root);
    for (let i = 0; i < 3; i++) await root.get('/v1/customers?scope=subtree').expect(200);
    const limited = await root.get('/v1/customers?scope=subtree').expect(429);
    expectProblem(limited, 429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    // Another caller has its own budget.
    await other.get('/v1/customers?scope=subtree').expect(200);
  });
});
