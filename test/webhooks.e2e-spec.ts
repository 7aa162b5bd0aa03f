import { randomUUID } from 'node:crypto';
import { Actor, createCustomer, expectProblem, loginRoot } from './setup/factories';
import { startTestApp, TestApp } from './setup/test-app';
import { eventually, FAST_WEBHOOKS, WebhookReceiver } from './setup/webhook-receiver';

describe('webhook endpoints', () => {
  let t: TestApp;
  let root: Actor, a: Actor, c: Actor, sibling: Actor;
  const receiver = new WebhookReceiver();
  let url: string;

  beforeAll(async () => {
    t = await startTestApp(FAST_WEBHOOKS);
    url = await receiver.start();
    root = await loginRoot(t);
    a = await createCustomer(t, root, { name: 'A' });
    c = await createCustomer(t, a, { name: 'C' });
    sibling = await createCustomer(t, a, { name: 'S' });
  });
  afterAll(async () => {
    await t.close();
    await receiver.stop();
  });

  it('creates an endpoint whose secret is shown once, never again, and masked in the audit trail', async () => {
    const created = await c.post('/v1/webhook-endpoints', { url, events: ['customer.created', 'balance.changed'], description: 'billing' }).expect(201);
    expect(created.body).toMatchObject({ customerId: c.id, url, events: ['customer.created', 'balance.changed'], description: 'billing', status: 'enabled', disabledReason: null, version: 1 });
    expect(created.body.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from(created.body.secret.slice(6), 'base64')).toHaveLength(32);
    expect(created.headers.etag).toBe('"1"');
    const got = await c.get(`/v1/webhook-endpoints/${created.body.id}`).expect(200);
    expect(got.body.secret).toBeUndefined();
    expect(JSON.stringify(got.body)).not.toContain(created.body.secret.slice(6));
    const listed = await c.get('/v1/webhook-endpoints').expect(200);
    expect(listed.body.items.map((e: { id: string }) => e.id)).toEqual([created.body.id]);
    expect(JSON.stringify(listed.body)).not.toContain(created.body.secret.slice(6));
    const audit = await c.get('/v1/audit-events').expect(200);
    const event = audit.body.items.find((e: { action: string }) => e.action === 'webhook-endpoint.create');
    expect(event.changes.after.secret).toBe('***');
    expect(JSON.stringify(audit.body)).not.toContain(created.body.secret.slice(6));
  });

  it('replays a create under the same Idempotency-Key without the secret', async () => {
    const key = randomUUID();
    const send = () => t.http().post('/v1/webhook-endpoints').set('Authorization', `Bearer ${c.token}`).set('Idempotency-Key', key).send({ url, events: ['balance.low'] });
    const first = await send().expect(201);
    const replay = await send().expect(201);
    expect(first.body.secret).toMatch(/^whsec_/);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.body.secret).toBeUndefined();
    expect(replay.body.id).toBe(first.body.id);
  });

  it('refuses bad input with a 400 naming the field', async () => {
    const cases: Array<[object, string]> = [
      [{ url: 'ftp://example.com/x', events: ['balance.low'] }, '/url'],
      [{ url: 'not a url', events: ['balance.low'] }, '/url'],
      [{ url: `https://example.com/${'x'.repeat(2048)}`, events: ['balance.low'] }, '/url'],
      [{ url: 'https://user:pw@example.com/', events: ['balance.low'] }, '/url'],
      [{ url, events: ['no.such-type'] }, '/events'],
      [{ url, events: [] }, '/events'],
      [{ url, events: ['balance.low', 'balance.low'] }, '/events'],
      [{ url }, '/events'],
    ];
    for (const [body, pointer] of cases) {
      const res = await c.post('/v1/webhook-endpoints', body);
      expectProblem(res, 400);
      expect({ body, pointers: res.body.errors.map((e: { pointer: string }) => e.pointer) }).toEqual({ body, pointers: expect.arrayContaining([pointer]) });
    }
  });

  it('scopes endpoints like other resources: a descendant’s are visible above, the parent’s and siblings’ are 404', async () => {
    const ofC = await a.post('/v1/webhook-endpoints', { url, events: ['balance.low'], customerId: c.id }).expect(201);
    expect(ofC.body.customerId).toBe(c.id);
    const ofA = await a.post('/v1/webhook-endpoints', { url, events: ['balance.low'] }).expect(201);
    await a.get(`/v1/webhook-endpoints/${ofC.body.id}`).expect(200);
    const underC = await a.get(`/v1/webhook-endpoints?customerId=${c.id}`).expect(200);
    expect(underC.body.items.every((e: { customerId: string }) => e.customerId === c.id)).toBe(true);
    for (const path of [`/v1/webhook-endpoints/${ofA.body.id}`, `/v1/webhook-endpoints/${ofA.body.id}/deliveries`]) {
      expectProblem(await c.get(path), 404);
      expectProblem(await sibling.get(path), 404);
    }
    expectProblem(await c.patch(`/v1/webhook-endpoints/${ofA.body.id}`, { description: 'x' }), 404);
    expectProblem(await c.delete(`/v1/webhook-endpoints/${ofA.body.id}`), 404);
    expectProblem(await c.post(`/v1/webhook-endpoints/${ofA.body.id}/test`), 404);
    expectProblem(await c.post('/v1/webhook-endpoints', { url, events: ['balance.low'], customerId: a.id }), 404);
    expect((await c.get('/v1/webhook-endpoints').expect(200)).body.items.map((e: { id: string }) => e.id)).not.toContain(ofA.body.id);
  });

  it('changes an endpoint with If-Match and deletes it', async () => {
    const created = await c.post('/v1/webhook-endpoints', { url, events: ['balance.low'] }).expect(201);
    const id = created.body.id;
    await c.patch(`/v1/webhook-endpoints/${id}`, { description: 'x' }).set('If-Match', '"7"').expect(412);
    const changed = await c.patch(`/v1/webhook-endpoints/${id}`, { events: ['balance.low', 'call.rated'], status: 'disabled' }).set('If-Match', created.headers.etag).expect(200);
    expect(changed.body).toMatchObject({ events: ['balance.low', 'call.rated'], status: 'disabled', disabledReason: 'Disabled by a user.', version: 2 });
    expectProblem(await c.patch(`/v1/webhook-endpoints/${id}`, { secret: 'whsec_x' }), 400);
    expectProblem(await c.post(`/v1/webhook-endpoints/${id}/test`), 409);
    const enabled = await c.patch(`/v1/webhook-endpoints/${id}`, { status: 'enabled' }).expect(200);
    expect(enabled.body).toMatchObject({ status: 'enabled', disabledReason: null });
    await c.delete(`/v1/webhook-endpoints/${id}`).set('If-Match', '"1"').expect(412);
    await c.delete(`/v1/webhook-endpoints/${id}`).set('If-Match', enabled.headers.etag).expect(204);
    expectProblem(await c.get(`/v1/webhook-endpoints/${id}`), 404);
  });

  it('sends a test event: it arrives signed (the library verifies it), and the deliveries list shows the attempt', async () => {
    const created = await c.post('/v1/webhook-endpoints', { url, events: ['balance.low'] }).expect(201);
    const sent = await c.post(`/v1/webhook-endpoints/${created.body.id}/test`).expect(202);
    expect(sent.body).toMatchObject({ endpointId: created.body.id, event: { type: 'webhook.test', sequence: null }, status: 'pending' });
    const eventId = sent.body.event.id;
    await eventually(() => receiver.delivered().has(eventId), 20000, 'the test event');
    const received = receiver.delivered().get(eventId)!;
    expect(WebhookReceiver.verify(created.body.secret, received)).toMatchObject({ id: eventId, type: 'webhook.test', subject: { type: 'webhook-endpoint', id: created.body.id }, actor: c.id });
    // Sent by the parent, the actor is above the owner: null, as the owner's feed would show it.
    const byParent = await a.post(`/v1/webhook-endpoints/${created.body.id}/test`).expect(202);
    await eventually(() => receiver.delivered().has(byParent.body.event.id), 20000, 'the parent’s test event');
    expect(JSON.parse(receiver.delivered().get(byParent.body.event.id)!.body).actor).toBeNull();
    expect(() => WebhookReceiver.verify(`whsec_${Buffer.alloc(32, 1).toString('base64')}`, received)).toThrow();
    await eventually(
      async () => (await c.get(`/v1/webhook-endpoints/${created.body.id}/deliveries`).expect(200)).body.items[0]?.status === 'delivered',
      15000,
      'the delivery recorded',
    );
    await eventually(
      async () => (await c.get(`/v1/webhook-endpoints/${created.body.id}/deliveries`).expect(200)).body.items.every((d: { status: string }) => d.status === 'delivered'),
      15000,
      'both deliveries recorded',
    );
    const list = await c.get(`/v1/webhook-endpoints/${created.body.id}/deliveries`).expect(200);
    expect(list.body.items).toHaveLength(2);
    expect(list.body.items[1]).toMatchObject({ id: sent.body.id, status: 'delivered', attemptCount: 1, nextAttemptAt: null, event: { id: eventId, type: 'webhook.test' } });
    expect(list.body.items[1].attempts).toEqual([{ n: 1, attemptedAt: expect.any(String), statusCode: 204, error: null, durationMs: expect.any(Number) }]);
    // The test event is not in the feed.
    const feed = await t.dataSource.query(`SELECT count(*)::int AS n FROM events WHERE id = $1`, [eventId]);
    expect(feed[0].n).toBe(0);
  });

  it('pages the deliveries newest first', async () => {
    const created = await c.post('/v1/webhook-endpoints', { url, events: ['balance.low'] }).expect(201);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await c.post(`/v1/webhook-endpoints/${created.body.id}/test`).expect(202)).body.id);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { body: { items: Array<{ id: string }>; nextCursor: string | null } } = await c
        .get(`/v1/webhook-endpoints/${created.body.id}/deliveries?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`)
        .expect(200);
      seen.push(...page.body.items.map((d) => d.id));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual([...ids].reverse());
    expectProblem(await c.get(`/v1/webhook-endpoints/${created.body.id}/deliveries?cursor=forged`), 400);
  });
});

describe('webhook targets without WEBHOOK_ALLOW_PRIVATE_TARGETS', () => {
  let t: TestApp;
  let root: Actor;

  beforeAll(async () => {
    t = await startTestApp();
    root = await loginRoot(t);
  });
  afterAll(() => t.close());

  it.each([
    'http://127.0.0.1:8080/hooks',
    'http://localhost/hooks',
    'https://10.1.2.3/hooks',
    'https://192.168.0.10/hooks',
    'https://172.16.5.4/hooks',
    'https://169.254.169.254/latest/meta-data',
    'https://[::1]/hooks',
    'https://[fd00::1]/hooks',
    'https://[fe80::1]/hooks',
    'https://[::ffff:127.0.0.1]/hooks',
    'https://0.0.0.0/hooks',
    'https://100.64.0.1/hooks',
  ])('refuses %s with a 400 naming /url', async (target) => {
    const res = await root.post('/v1/webhook-endpoints', { url: target, events: ['balance.low'] });
    expectProblem(res, 400);
    expect(res.body.errors).toEqual([{ pointer: '/url', detail: expect.stringContaining('refused') }]);
  });

  it('refuses a host name that does not resolve, and a change of URL to a private one', async () => {
    const res = await root.post('/v1/webhook-endpoints', { url: 'https://no-such-host.invalid/hooks', events: ['balance.low'] });
    expectProblem(res, 400);
    expect(res.body.errors[0].pointer).toBe('/url');
    const created = await root.post('/v1/webhook-endpoints', { url: 'https://93.184.215.14/hooks', events: ['balance.low'] }).expect(201);
    const patched = await root.patch(`/v1/webhook-endpoints/${created.body.id}`, { url: 'http://127.0.0.1/hooks' });
    expectProblem(patched, 400);
    expect(patched.body.errors[0].pointer).toBe('/url');
  });
});
