import { readFileSync } from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { bindIdempotencyToPosts } from '../src/common/idempotency/idempotency.module';
import { requestLoggerFactory } from '../src/common/logging';
import { Actor, expectProblem, loginRoot, uniqueName } from './setup/factories';
import { startTestApp, TestApp } from './setup/test-app';

interface Event {
  action: string;
  targetId: string | null;
  requestId: string | null;
  clientAddress: string | null;
}

async function allEvents(actor: Actor): Promise<Event[]> {
  const events: Event[] = [];
  let cursor: string | null = null;
  do {
    const res: { body: { items: Event[]; nextCursor: string | null } } = await actor
      .get(`/v1/audit-events?limit=200${cursor ? `&cursor=${cursor}` : ''}`)
      .expect(200);
    events.push(...res.body.items);
    cursor = res.body.nextCursor;
  } while (cursor);
  return events;
}

/** helmet's headers as Canopy sends them (CSP off: the API's own CSP is set beside them). */
const SECURITY_HEADERS = {
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'origin-agent-cluster': '?1',
  'referrer-policy': 'no-referrer',
  'strict-transport-security': 'max-age=31536000; includeSubDomains',
  'x-content-type-options': 'nosniff',
  'x-dns-prefetch-control': 'off',
  'x-download-options': 'noopen',
  'x-frame-options': 'SAMEORIGIN',
  'x-permitted-cross-domain-policies': 'none',
  'x-xss-protection': '0',
};
const API_CSP = "default-src 'none'; frame-ancestors 'none'";

/** What runs on a request (README, "Request path"): each kept behaviour of the lean path. */
describe('the request path', () => {
  let t: TestApp;
  let root: Actor;
  const lines: Array<Record<string, unknown>> = [];

  beforeAll(async () => {
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
    t = await startTestApp({}, { logger });
    root = await loginRoot(t);
  });
  afterAll(() => t.close());

  it('gives every audit event the request id and client address of the request that wrote it, with reads and writes interleaved', async () => {
    const writes = Array.from({ length: 20 }, (_, i) => `rp-write-${i}`);
    const created = new Map<string, string>();
    await Promise.all([
      ...writes.map(async (requestId) => {
        const res = await root.post('/v1/tariffs', { name: uniqueName('rp'), currency: 'USD' }).set('X-Request-Id', requestId).expect(201);
        created.set(requestId, res.body.id);
      }),
      ...writes.map(() => t.http().get('/v1/languages').expect(200)),
      ...writes.map(() => root.get('/v1/me').expect(200)),
    ]);
    // Then reads alone (no writing handler running), then a write again.
    for (let i = 0; i < 5; i++) await root.get('/v1/me').expect(200);
    const last = await root.post('/v1/tariffs', { name: uniqueName('rp'), currency: 'USD' }).set('X-Request-Id', 'rp-after-reads').expect(201);
    created.set('rp-after-reads', last.body.id);
    // A public POST without a caller (a failed login) keeps its request too.
    await t.http().post('/v1/auth/login').set('X-Request-Id', 'rp-failed-login').send({ login: 'root', password: 'wrong-password' }).expect(401);

    const events = await allEvents(root);
    for (const [requestId, tariffId] of created) {
      const event = events.filter((e) => e.action === 'tariff.create' && e.targetId === tariffId);
      expect(event).toHaveLength(1);
      expect(event[0].requestId).toBe(requestId);
      expect(event[0].clientAddress).toMatch(/127\.0\.0\.1/);
    }
    const failed = events.find((e) => e.action === 'session.login-failed' && e.requestId === 'rp-failed-login');
    expect(failed?.clientAddress).toMatch(/127\.0\.0\.1/);
  });

  it('sends the security headers, the API CSP and the request id on every kind of answer, and no CSP under /docs', async () => {
    const answers = [
      await t.http().get('/v1/languages').expect(200),
      await root.get('/v1/me').expect(200),
      await root.post('/v1/tariffs', { name: uniqueName('h'), currency: 'USD' }).expect(201),
      await t.http().get('/v1/me').expect(401),
      await t.http().get('/v1/no-such-route').expect(404),
      await t.http().get('/v1/languages?limit=0').expect(400),
      // Router errors, answered before any route runs.
      await root.get('/v1/customers/%zz').expect(400),
      await root.get(`/v1/customers/${'x'.repeat(200)}`).expect(414),
    ];
    for (const res of answers) {
      expect(res.headers).toMatchObject({ ...SECURITY_HEADERS, 'content-security-policy': API_CSP });
      expect(res.headers['x-request-id']).toBeTruthy();
      expect(res.headers['x-powered-by']).toBeUndefined();
    }
    const docs = await t.http().get('/docs').expect(200);
    expect(docs.headers).toMatchObject(SECURITY_HEADERS);
    expect(docs.headers['content-security-policy']).toBeUndefined();
  });

  it('writes one log line per request, when it ends, with the request, the status and the time', async () => {
    await t.http().get('/v1/languages').set('X-Request-Id', 'rp-log-ok').expect(200);
    expectProblem(await t.http().get('/v1/me').set('X-Request-Id', 'rp-log-401').expect(401), 401);
    await new Promise((resolve) => setImmediate(resolve));
    const ok = lines.filter((l) => l.reqId === 'rp-log-ok');
    expect(ok).toHaveLength(1);
    expect(ok[0]).toMatchObject({ msg: 'request completed', req: { method: 'GET', url: '/v1/languages' }, res: { statusCode: 200 } });
    expect(typeof ok[0].responseTime).toBe('number');
    const refused = lines.filter((l) => l.reqId === 'rp-log-401');
    expect(refused).toHaveLength(1);
    expect(refused[0]).toMatchObject({ res: { statusCode: 401 } });
  });

  it('logs what a request writes through request.log with its request id, and nothing below the level', () => {
    const written: Array<Record<string, unknown>> = [];
    const parent = pino({ level: 'warn' }, { write: (line: string) => void written.push(JSON.parse(line) as Record<string, unknown>) });
    const log = requestLoggerFactory(parent, { reqId: 'rp-child' }, {});
    log.info('not written');
    log.error({ err: new Error('boom') }, 'unexpected error');
    log.child({ part: 'inner' }).warn('inner warning');
    expect(written).toHaveLength(2);
    expect(written[0]).toMatchObject({ reqId: 'rp-child', msg: 'unexpected error', err: { message: 'boom' } });
    expect(written[1]).toMatchObject({ reqId: 'rp-child', part: 'inner', msg: 'inner warning' });
  });

  it('puts the idempotency interceptor on exactly the authenticated POST operations that do not claim their key themselves', () => {
    const spec = JSON.parse(readFileSync(path.join(__dirname, '../openapi/openapi.json'), 'utf8')) as {
      paths: Record<string, Record<string, { operationId: string; security?: unknown[] }>>;
    };
    const expected = Object.entries(spec.paths)
      .filter(([route, item]) => item.post && !(item.post.security?.length === 0) && !route.includes('balance-operations'))
      .map(([, item]) => item.post.operationId)
      .sort();
    const bound = bindIdempotencyToPosts(t.app)
      .map((handler) => handler.split('.')[1])
      .sort();
    expect(expected.length).toBeGreaterThan(5);
    expect(bound).toEqual(expected);
  });
});
