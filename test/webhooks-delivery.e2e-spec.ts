import { randomUUID } from 'node:crypto';
import { EVENT_TYPES as ALL_EVENT_TYPES } from '../src/events/event-types';

/**
 * The workload's types: every type but the endpoints' own (whether an endpoint receives the
 * event of its own creation depends on when the dispatcher reaches it; not what these prove).
 */
const EVENT_TYPES = ALL_EVENT_TYPES.filter((type) => !type.startsWith('webhook-endpoint.'));
import { Actor, createCustomer, createTariff, loginRoot, uniqueName } from './setup/factories';
import { feed, FeedEvent, feedUntil, settledSequence } from './setup/events';
import { startSecondInstance, startTestApp, TestApp } from './setup/test-app';
import { eventually, FAST_WEBHOOKS, WebhookReceiver } from './setup/webhook-receiver';

/** A random workload of customers, accounts and balance operations in three subtrees. */
async function workload(t: TestApp, places: Actor[], steps: number): Promise<void> {
  const tariffs = new Map<string, string>();
  for (let i = 0; i < steps; i++) {
    const at = places[Math.floor(Math.random() * places.length)];
    const roll = Math.random();
    if (roll < 0.15) {
      places.push(await createCustomer(t, at));
    } else if (roll < 0.3) {
      if (!tariffs.has(at.id)) tariffs.set(at.id, await createTariff(at));
      const account = await at.post('/v1/accounts', { username: uniqueName('u'), webPassword: 'password-1', voipPassword: 'voip-pass-1', tariffId: tariffs.get(at.id) });
      expect(account.status).toBe(201);
      await t.http().post(`/v1/accounts/${account.body.id}/balance-operations`).set('Authorization', `Bearer ${at.token}`).set('Idempotency-Key', randomUUID())
        .send({ action: 'credit', amount: String(1 + Math.floor(Math.random() * 50)) }).expect(201);
    } else {
      // A payment to itself is not allowed; the parent posts to its children instead (any visible sub-customer).
      const children = places.filter((p) => p !== at && p.id !== at.id);
      const target = children[Math.floor(Math.random() * children.length)];
      const res = await t.http().post(`/v1/customers/${target.id}/balance-operations`).set('Authorization', `Bearer ${at.token}`).set('Idempotency-Key', randomUUID())
        .send({ action: Math.random() < 0.7 ? 'credit' : 'debit', amount: String(1 + Math.floor(Math.random() * 9)) });
      expect([201, 403, 404, 422]).toContain(res.status); // other subtrees' customers are 404: nothing written
    }
  }
}

const ids = (events: Array<{ id: string }>) => events.map((e) => e.id).sort();

describe('webhook deliveries from the feed', () => {
  let t: TestApp;
  let root: Actor, a: Actor, c: Actor, sibling: Actor;
  const receiver = new WebhookReceiver();
  const flaky = new WebhookReceiver();
  let url: string;
  let flakyUrl: string;

  beforeAll(async () => {
    t = await startTestApp({ ...FAST_WEBHOOKS, RATE_LIMIT_EXPENSIVE_PER_MINUTE: '100000' });
    url = await receiver.start();
    flakyUrl = await flaky.start();
    // The flaky receiver answers 500 twice, then does not answer at all (a timeout), then 204.
    flaky.answer = ({ nth }) => (nth <= 2 ? 500 : nth === 3 ? 'hang' : 204);
    root = await loginRoot(t);
    a = await createCustomer(t, root, { name: 'A' });
    c = await createCustomer(t, a, { name: 'C' });
    sibling = await createCustomer(t, a, { name: 'S' });
  });
  afterAll(async () => {
    await t.close();
    await receiver.stop();
    await flaky.stop();
  });

  it('delivers every event of the owner’s subtree exactly once (by webhook-id), signed, as the feed renders it; never a parent’s or sibling’s; also through failures and timeouts', async () => {
    const everything = [...EVENT_TYPES];
    const ofC = await c.post('/v1/webhook-endpoints', { url, events: everything }).expect(201);
    const ofRoot = await root.post('/v1/webhook-endpoints', { url, events: ['balance.changed'] }).expect(201);
    const ofCFlaky = await c.post('/v1/webhook-endpoints', { url: flakyUrl, events: everything }).expect(201);
    const secrets = new Map([[ofC.body.secret, 'c'], [ofRoot.body.secret, 'root']]);
    // What happened before the endpoints were made is not theirs to receive. The feed shows an
    // event shortly after its commit: read it once the last endpoint's own event is in it (every
    // change committed before that endpoint is then in the feed too).
    const shows = (id: string) => (events: FeedEvent[]) => events.some((e) => e.subject.id === id);
    const startC = (await feedUntil(c, shows(ofCFlaky.body.id))).map((e) => e.id);
    const startRoot = (await feedUntil(root, shows(ofCFlaky.body.id))).map((e) => e.id);

    const d = await createCustomer(t, c);
    await t.http().post(`/v1/customers/${d.id}/balance-operations`).set('Authorization', `Bearer ${c.token}`).set('Idempotency-Key', randomUUID())
      .send({ action: 'credit', amount: '5' }).expect(201);
    await workload(t, [a, c, d, sibling, root], 60);
    await settledSequence(c); // the whole workload is in the feed (and a marker of C's after it)

    // The feed is the truth: what C's feed shows after the endpoint was made, C's endpoint must receive.
    let expectedC: FeedEvent[] = [];
    let expectedRoot: FeedEvent[] = [];
    const subscribable = new Set<string>(EVENT_TYPES);
    await eventually(
      async () => {
        expectedC = (await feed(c)).filter((e) => !startC.includes(e.id) && subscribable.has(e.type));
        expectedRoot = (await feed(root, 0, '&types=balance.changed')).filter((e) => !startRoot.includes(e.id));
        const got = receiver.delivered();
        const flakyGot = flaky.delivered();
        return [...expectedC, ...expectedRoot].every((e) => got.has(e.id)) && expectedC.every((e) => flakyGot.has(e.id));
      },
      30000,
      'every event delivered',
    ).catch((error: Error) => {
      const got = receiver.delivered();
      throw new Error(`${error.message}: missing ${JSON.stringify([...expectedC, ...expectedRoot].filter((e) => !got.has(e.id)).slice(0, 5))}`);
    });
    await new Promise((r) => setTimeout(r, 500)); // anything extra would have arrived by now
    expect(expectedC.length).toBeGreaterThan(5);

    // Each request verifies with the library and belongs to exactly one endpoint's secret.
    const byEndpoint = { c: [] as FeedEvent[], root: [] as FeedEvent[] };
    const seen = new Set<string>();
    for (const request of receiver.requests) {
      const owners = [...secrets.entries()].filter(([secret]) => {
        try {
          WebhookReceiver.verify(secret, request);
          return true;
        } catch {
          return false;
        }
      });
      expect(owners).toHaveLength(1);
      const key = `${owners[0][1]}:${request.id}`;
      if (seen.has(key)) continue; // de-duplication by webhook-id
      seen.add(key);
      byEndpoint[owners[0][1] as 'c' | 'root'].push(JSON.parse(request.body));
    }
    expect(ids(byEndpoint.c)).toEqual(ids(expectedC));
    expect(ids(byEndpoint.root)).toEqual(ids(expectedRoot));
    // The body is the feed's event as the owner sees it (actor hidden when above the owner).
    const feedById = new Map(expectedC.map((e) => [e.id, e]));
    for (const event of byEndpoint.c) expect(event).toEqual(feedById.get(event.id));

    // Scope: nothing about A (C's parent), the sibling S or the root reached C's endpoints.
    const cIds = new Set(expectedC.map((e) => e.id));
    const parentAndSiblings = (await feed(a)).filter((e) => !cIds.has(e.id));
    expect(parentAndSiblings.some((e) => e.subject.id === sibling.id || e.subject.id === a.id)).toBe(true);
    const receivedByC = new Set([...byEndpoint.c.map((e) => e.id), ...flaky.events().map((e) => e.id)]);
    expect(parentAndSiblings.filter((e) => receivedByC.has(e.id))).toEqual([]);

    // The flaky receiver got everything of C's feed, each first after two 500s and a timeout.
    expect(ids(flaky.events())).toEqual(ids(expectedC));
    for (const event of flaky.events()) WebhookReceiver.verify(ofCFlaky.body.secret, flaky.delivered().get(event.id)!);
    const deliveries = await c.get(`/v1/webhook-endpoints/${ofCFlaky.body.id}/deliveries?limit=1`).expect(200);
    const delivery = deliveries.body.items[0];
    await eventually(
      async () => (await c.get(`/v1/webhook-endpoints/${ofCFlaky.body.id}/deliveries?limit=200`).expect(200)).body.items.every((d: { status: string }) => d.status === 'delivered'),
      20000,
      'the flaky deliveries recorded',
    );
    const one = (await c.get(`/v1/webhook-endpoints/${ofCFlaky.body.id}/deliveries?limit=200`).expect(200)).body.items.find((d: { id: string }) => d.id === delivery.id);
    expect(one).toMatchObject({ status: 'delivered', attemptCount: 4, nextAttemptAt: null });
    expect(one.attempts.map((x: { statusCode: number | null; error: string | null }) => [x.statusCode, x.error])).toEqual([
      [500, null],
      [500, null],
      [null, 'timed out after 400 ms'],
      [204, null],
    ]);
  }, 120000);

  it('shows a pending delivery’s next try and disables nothing while the failures are younger than WEBHOOK_DISABLE_AFTER_HOURS', async () => {
    const down = new WebhookReceiver();
    const downUrl = await down.start();
    down.answer = () => 503;
    try {
      const endpoint = await c.post('/v1/webhook-endpoints', { url: downUrl, events: ['balance.low'] }).expect(201);
      await c.post(`/v1/webhook-endpoints/${endpoint.body.id}/test`).expect(202);
      const deliveries = () => c.get(`/v1/webhook-endpoints/${endpoint.body.id}/deliveries`).expect(200);
      await eventually(async () => (await deliveries()).body.items[0].attemptCount >= 3, 20000, 'three failed attempts recorded');
      const list = await deliveries();
      expect(list.body.items[0].status).toBe('pending');
      expect(list.body.items[0].attemptCount).toBeGreaterThanOrEqual(3);
      expect(list.body.items[0].attempts[0]).toMatchObject({ n: 1, statusCode: 503, error: null });
      expect(Date.parse(list.body.items[0].nextAttemptAt)).toBeGreaterThan(Date.parse(list.body.items[0].attempts.at(-1).attemptedAt));
      const got = await c.get(`/v1/webhook-endpoints/${endpoint.body.id}`).expect(200);
      expect(got.body).toMatchObject({ status: 'enabled', failingSince: expect.any(String) });
      await c.delete(`/v1/webhook-endpoints/${endpoint.body.id}`).expect(204);
    } finally {
      await down.stop();
    }
  });
});

describe('webhook endpoints that keep failing', () => {
  let t: TestApp;
  let root: Actor;
  const receiver = new WebhookReceiver();

  beforeAll(async () => {
    // Disabled after failing for 1.8 s; a delivery is given up after 0.9 s of retries.
    t = await startTestApp({ ...FAST_WEBHOOKS, WEBHOOK_DISABLE_AFTER_HOURS: '0.0005', WEBHOOK_RETRY_HOURS: '0.00025' });
    root = await loginRoot(t);
  });
  afterAll(async () => {
    await t.close();
    await receiver.stop();
  });

  it('gives a delivery up after WEBHOOK_RETRY_HOURS, disables the endpoint after WEBHOOK_DISABLE_AFTER_HOURS of failures, and PATCH {status: enabled} brings it back', async () => {
    const url = await receiver.start();
    let up = false;
    receiver.answer = () => (up ? 200 : 500);
    const endpoint = await root.post('/v1/webhook-endpoints', { url, events: ['balance.low'] }).expect(201);
    const id = endpoint.body.id;
    const first = await root.post(`/v1/webhook-endpoints/${id}/test`).expect(202);
    await eventually(
      async () => (await root.get(`/v1/webhook-endpoints/${id}/deliveries`).expect(200)).body.items[0].status === 'failed',
      20000,
      'the delivery given up',
    );
    const failed = (await root.get(`/v1/webhook-endpoints/${id}/deliveries`).expect(200)).body.items[0];
    expect(failed).toMatchObject({ id: first.body.id, status: 'failed', nextAttemptAt: null });
    expect(failed.attemptCount).toBeGreaterThan(1);
    // Keep failing until 1.8 s after the first failure: the endpoint is disabled and says why.
    await eventually(
      async () => {
        const now = (await root.get(`/v1/webhook-endpoints/${id}`).expect(200)).body;
        if (now.status === 'disabled') return true;
        const sent = await root.post(`/v1/webhook-endpoints/${id}/test`);
        expect([202, 409]).toContain(sent.status); // 409: disabled meanwhile
        await new Promise((r) => setTimeout(r, 300));
        return false;
      },
      20000,
      'the endpoint disabled',
    );
    const disabled = await root.get(`/v1/webhook-endpoints/${id}`).expect(200);
    expect(disabled.body).toMatchObject({ status: 'disabled', disabledReason: expect.stringContaining('failed continuously since') });
    const audit = await root.get('/v1/audit-events?limit=200').expect(200);
    expect(audit.body.items.some((e: { action: string; actor: string | null; changes: { after: { status: string } } }) => e.action === 'webhook-endpoint.update' && e.actor === null && e.changes.after.status === 'disabled')).toBe(true);
    // Re-enabled: failures start afresh and the test event arrives.
    up = true;
    const enabled = await root.patch(`/v1/webhook-endpoints/${id}`, { status: 'enabled' }).expect(200);
    expect(enabled.body).toMatchObject({ status: 'enabled', disabledReason: null, failingSince: null });
    const sent = await root.post(`/v1/webhook-endpoints/${id}/test`).expect(202);
    await eventually(() => receiver.delivered().has(sent.body.event.id), 20000, 'the test event after re-enabling');
  }, 60000);
});

describe('two instances on one database', () => {
  let t: TestApp;
  let second: { close(): Promise<void> };
  const receiver = new WebhookReceiver();

  beforeAll(async () => {
    t = await startTestApp({ ...FAST_WEBHOOKS, RATE_LIMIT_EXPENSIVE_PER_MINUTE: '100000' });
    second = await startSecondInstance(t);
  });
  afterAll(async () => {
    await second.close();
    await t.close();
    await receiver.stop();
  });

  it('dispatches each event once and makes each attempt once (both instances run a dispatcher and a worker)', async () => {
    const url = await receiver.start();
    // Slow answers keep jobs in flight on both instances at once.
    receiver.answer = () => 200;
    const root = await loginRoot(t);
    const endpoint = await root.post('/v1/webhook-endpoints', { url, events: [...EVENT_TYPES] }).expect(201);
    // Settled as above: the login's and earlier events may reach the feed after the endpoint was made.
    const before = (await feedUntil(root, (events) => events.some((e) => e.subject.id === endpoint.body.id))).map((e) => e.id);
    const a = await createCustomer(t, root);
    const b = await createCustomer(t, root);
    await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        t.http().post(`/v1/customers/${(i % 2 ? a : b).id}/balance-operations`).set('Authorization', `Bearer ${root.token}`).set('Idempotency-Key', randomUUID())
          .send({ action: 'credit', amount: '1' }).expect(201),
      ),
    );
    await settledSequence(root); // every posting is in the feed (and a marker after it)
    // At least two customers, their tariffs and forty balance.changed; the feed is read again until all it shows arrived.
    const subscribable = new Set<string>(EVENT_TYPES);
    const newEvents = async () => (await feed(root)).filter((e) => !before.includes(e.id) && subscribable.has(e.type));
    let expected: FeedEvent[] = [];
    await eventually(
      async () => {
        expected = await newEvents();
        return expected.length >= 44 && expected.every((e) => receiver.delivered().has(e.id));
      },
      20000,
      'every event delivered',
    ).catch(async (error: Error) => {
      const missing = expected.filter((e) => !receiver.delivered().has(e.id)).map((e) => e.id);
      const state = await t.dataSource.query(
        `SELECT d.event_id, d.status, d.attempt_count, (SELECT json_agg(json_build_object('state', j.state, 'retry', j.retry_count, 'data', j.data)) FROM pgboss.job j WHERE j.data->>'deliveryId' = d.id::text) AS jobs
           FROM webhook_deliveries d WHERE d.endpoint_id = $1 AND d.event_id = ANY ($2::uuid[])`,
        [endpoint.body.id, missing],
      );
      throw new Error(`${error.message}: ${expected.length} expected, ${missing.length} missing; ${JSON.stringify(state).slice(0, 2000)}`);
    });
    await new Promise((r) => setTimeout(r, 500));
    expected = await newEvents();
    expect(receiver.requests.map((r) => r.id).sort()).toEqual(ids(expected));
    const attempts = await t.dataSource.query(
      `SELECT d.event_id, count(a.*)::int AS n FROM webhook_deliveries d LEFT JOIN webhook_attempts a ON a.delivery_id = d.id
        WHERE d.endpoint_id = $1 GROUP BY d.event_id`,
      [endpoint.body.id],
    );
    expect(attempts.length).toBe(expected.length);
    expect(attempts.every((row: { n: number }) => row.n === 1)).toBe(true);
  }, 60000);
});
