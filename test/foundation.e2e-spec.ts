import { startTestApp, TestApp } from './setup/test-app';

describe('foundation', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('answers liveness and readiness', async () => {
    await t.http().get('/health/live').expect(200, { status: 'ok' });
    const ready = await t.http().get('/health/ready').expect(200);
    expect(ready.body).toEqual({ status: 'ok', database: 'up', migrations: 'current' });
  });

  it('echoes a request id, or makes one', async () => {
    const given = await t.http().get('/health/live').set('X-Request-Id', 'abc-123').expect(200);
    expect(given.headers['x-request-id']).toBe('abc-123');
    const made = await t.http().get('/health/live').expect(200);
    expect(made.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    const bad = await t.http().get('/health/live').set('X-Request-Id', 'bad id with spaces').expect(200);
    expect(bad.headers['x-request-id']).not.toBe('bad id with spaces');
  });

  it('answers unknown routes with a problem+json 404', async () => {
    const res = await t.http().get('/v1/nothing-here').expect(404);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body).toEqual({
      type: 'https://canopy.dev/problems/not-found',
      title: 'Not Found',
      status: 404,
      detail: 'No resource exists at this address.',
      instance: '/v1/nothing-here',
    });
  });

  it('answers malformed JSON with a problem+json 400', async () => {
    const res = await t
      .http()
      .post('/v1/currencies')
      .set('content-type', 'application/json')
      .send('{"broken":')
      .expect(400);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body.status).toBe(400);
  });

  it('answers bodies over 1 MiB with a problem+json 413', async () => {
    const res = await t
      .http()
      .post('/v1/currencies')
      .set('content-type', 'application/json')
      .send(JSON.stringify({ x: 'a'.repeat(1024 * 1024 + 10) }))
      .expect(413);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body).toMatchObject({ type: 'https://canopy.dev/problems/payload-too-large', status: 413 });
  });

  it('serves the API docs and the OpenAPI JSON', async () => {
    const html = await t.http().get('/docs').expect(200);
    expect(html.text).toContain('swagger');
    const json = await t.http().get('/docs/json').expect(200);
    expect(json.body.openapi).toMatch(/^3\./);
    expect(json.body.paths['/v1/currencies']).toBeDefined();
  });
});

describe('hostile characters', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('answers a NUL character in the body with a 400 naming the field, not a 500', async () => {
    const res = await t.http().post('/v1/auth/login').send({ login: 'a\u0000b', password: 'whatever-password' }).expect(400);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body.errors).toEqual([{ pointer: '/login', detail: 'login must not contain NUL characters' }]);
    const query = await t.http().get('/v1/customers?q=a%00b').set('Authorization', 'Bearer x').expect(401);
    expect(query.body.status).toBe(401);
  });

  it('names the scheme on a 401', async () => {
    const res = await t.http().get('/v1/me').expect(401);
    expect(res.headers['www-authenticate']).toBe('Bearer realm="canopy"');
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  });
});
