import { PRUNE_CHUNK } from '../src/common/retention-pruner';
import { EventPruner } from '../src/events/pruner';
import { WebhookDeliveriesPruner } from '../src/webhooks/deliveries-pruner';
import { WebhookRuntime } from '../src/webhooks/webhook-runtime';
import { Actor, createCustomer, loginRoot } from './setup/factories';
import { feed, FeedEvent, settledSequence } from './setup/events';
import { startTestApp, TestApp } from './setup/test-app';
import { eventually, FAST_WEBHOOKS, WebhookReceiver } from './setup/webhook-receiver';

/**
 * Event retention (EVENTS_RETENTION_DAYS, 30 by default; webhook deliveries' history too): the oldest events are deleted in
 * sequence order, never one a reader of the feed could still be owed without being told: a
 * read from below what was deleted is a 410 `events-expired` naming the last sequence deleted;
 * the newest event, the events the webhook dispatcher has not read and those a pending delivery
 * still sends are kept whatever their age. Events are aged here by moving their `occurred_at`
 * back (what the pruner reads); the passes are run by the test (`EventPruner.prune`), and in
 * one app by the pruner's own timer.
 */

/** Makes the events up to `through` (inclusive) `days` old. */
const age = (t: TestApp, through: number, days: number) =>
  t.dataSource.query(`UPDATE events SET occurred_at = now() - make_interval(days => $2::int) WHERE sequence <= $1::bigint`, [through, days]);

const dispatchedThrough = async (t: TestApp) => Number((await t.dataSource.query(`SELECT sequence FROM webhook_dispatch_position`))[0].sequence);

/** The first sequence still kept. */
const oldestKept = async (t: TestApp) => Number((await t.dataSource.query(`SELECT min(sequence) AS s FROM events`))[0].s);

const sequences = (events: FeedEvent[]) => events.map((e) => e.sequence);

describe('events retention', () => {
  let t: TestApp;
  let root: Actor;

  beforeAll(async () => {
    // The pruner's timer never fires during these tests: each pass is run by the test.
    t = await startTestApp({ EVENTS_PRUNE_INTERVAL_MS: '86400000', METRICS_TOKEN: 'retention-metrics-token-0123', ...FAST_WEBHOOKS });
    root = await loginRoot(t);
  });
  afterAll(() => t.close());

  /** A pass once the dispatcher has read the feed up to `through` (it must have, for those events to go). */
  async function pruneAfterDispatch(through: number): Promise<number> {
    await eventually(async () => (await dispatchedThrough(t)) >= through, 10000, 'the dispatcher to read the feed');
    return t.app.get(EventPruner).prune();
  }

  it('deletes the events past the retention, oldest first, and answers a read from below them 410 events-expired', async () => {
    await createCustomer(t, root);
    const old = await settledSequence(root);
    await createCustomer(t, root);
    const young = await settledSequence(root);
    const before = await feed(root);
    // A cursor issued before the pass, pointing into what it will delete.
    const firstPage = await root.get('/v1/events?limit=1').expect(200);
    expect(firstPage.body.items[0].sequence).toBeLessThan(old);

    await age(t, old, 31);
    expect(await pruneAfterDispatch(young)).toBe(before.filter((e) => e.sequence <= old).length);

    // Kept: everything after `old`, as it was; the feed now starts right after it.
    const after = await feed(root);
    expect(after[0].sequence).toBe(old + 1);
    expect(after).toEqual(before.filter((e) => e.sequence > old));
    expect(sequences(await feed(root, old))).toEqual(sequences(after));

    // Asked from below: a problem saying what is gone, not a silent gap.
    for (const query of [`after=${old - 1}`, 'after=0', `cursor=${encodeURIComponent(firstPage.body.nextCursor)}`]) {
      const res = await root.get(`/v1/events?${query}`).expect(410);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.body).toMatchObject({
        type: 'https://canopy.dev/problems/events-expired',
        title: 'Events expired',
        status: 410,
        prunedThrough: old,
        detail: `Events up to sequence ${old} are no longer kept; read the feed from its start (without after or cursor), or after ${old}.`,
      });
    }
    // `after` and a cursor both bound the page: it starts after the later one, so an `after`
    // below the mark with a cursor above it misses nothing.
    const kept = await root.get(`/v1/events?limit=1&after=${old}`).expect(200);
    const next = await root.get(`/v1/events?limit=1&after=0&cursor=${encodeURIComponent(kept.body.nextCursor)}`).expect(200);
    expect(next.body.items[0].sequence).toBe(kept.body.items[0].sequence + 1);

    // In the caller's language (its own `language`), with the same members.
    await root.patch('/v1/me', { language: 'de' }).expect(200);
    const german = await root.get(`/v1/events?after=${old - 1}`).expect(410);
    await root.patch('/v1/me', { language: 'en' }).expect(200);
    expect(german.headers['content-language']).toBe('de');
    expect(german.body).toMatchObject({ title: 'Ereignisse abgelaufen', prunedThrough: old });
    expect(german.body.detail).toBe(
      `Ereignisse bis Sequenz ${old} werden nicht mehr aufbewahrt; lesen Sie den Feed von seinem Anfang (ohne after oder cursor) oder nach ${old}.`,
    );

    const metrics = (await t.http().get('/metrics').set('authorization', 'Bearer retention-metrics-token-0123').expect(200)).text;
    expect(metrics).toMatch(new RegExp(`canopy_events_pruned_total ${before.filter((e) => e.sequence <= old).length}\\n`));
  });

  it('stops at the first event younger than the retention, however old those after it are', async () => {
    await createCustomer(t, root);
    const middle = await settledSequence(root);
    await createCustomer(t, root);
    const last = await settledSequence(root);
    const first = await oldestKept(t);
    await age(t, last, 40);
    await t.dataSource.query(`UPDATE events SET occurred_at = now() WHERE sequence = $1`, [middle]);
    expect(await pruneAfterDispatch(last)).toBe(middle - first);
    expect(await oldestKept(t)).toBe(middle);
    await root.get(`/v1/events?after=${middle - 2}`).expect(410);
    expect((await feed(root, middle - 1))[0].sequence).toBe(middle);
  });

  it('keeps the newest event whatever its age, and numbers the next after it', async () => {
    const newest = await settledSequence(root);
    await age(t, newest, 90);
    await pruneAfterDispatch(newest);
    expect(sequences(await feed(root))).toEqual([newest]);
    const next = await settledSequence(root);
    expect(next).toBeGreaterThan(newest);
    expect(sequences(await feed(root))).toEqual([newest, ...sequences(await feed(root, newest))]);
    // No longer the newest, it goes; then a pass with nothing old deletes nothing.
    expect(await pruneAfterDispatch(next)).toBe(1);
    expect(await t.app.get(EventPruner).prune()).toBe(0);
    expect(sequences(await feed(root))[0]).toBe(newest + 1);
  });

  it('deletes more than one chunk in one pass', async () => {
    const last = await settledSequence(root);
    const first = await oldestKept(t);
    // More old events than a chunk (copies of the last one, numbered on as the relay would).
    await t.dataSource.query(
      `INSERT INTO events (sequence, id, type, occurred_at, subject_type, subject_id, subject_path, actor_id, data, ledger_seq)
       SELECT e.sequence + g, gen_random_uuid(), e.type, e.occurred_at, e.subject_type, e.subject_id, e.subject_path, e.actor_id, e.data, e.ledger_seq
         FROM events e, generate_series(1, $2::int) g WHERE e.sequence = $1`,
      [last, PRUNE_CHUNK + 5],
    );
    const newest = last + PRUNE_CHUNK + 5;
    await age(t, newest, 31);
    expect(await pruneAfterDispatch(newest)).toBe(newest - first);
    expect(await oldestKept(t)).toBe(newest);
  });

  it('keeps the events a pending webhook delivery still has to send', async () => {
    const failing = new WebhookReceiver();
    failing.answer = () => 500;
    const url = await failing.start();
    try {
      const from = await settledSequence(root);
      await root.post('/v1/webhook-endpoints', { url, events: ['customer.created'] }).expect(201);
      const customer = await createCustomer(t, root);
      const last = await settledSequence(root);
      const created = (await feed(root, from)).find((e) => e.type === 'customer.created' && e.subject.id === customer.id)!;
      await eventually(() => failing.requests.length >= 1, 10000, 'a first failed attempt');
      await age(t, last, 60);
      await pruneAfterDispatch(last);
      // Deleted up to the pending delivery's event, not beyond.
      expect(await oldestKept(t)).toBe(created.sequence);
      await root.get(`/v1/events?after=${created.sequence - 1}`).expect(200);
    } finally {
      await failing.stop();
    }
  });

  it('deletes webhook deliveries past the retention with their attempts, but not one still pending', async () => {
    const ok = new WebhookReceiver();
    const okUrl = await ok.start();
    try {
      const good = await root.post('/v1/webhook-endpoints', { url: okUrl, events: ['tariff.created'] }).expect(201);
      await settledSequence(root); // a tariff made: one delivery
      await settledSequence(root);
      type Delivery = { id: string; status: string; attempts: unknown[] };
      const deliveries = async (): Promise<Delivery[]> => (await root.get(`/v1/webhook-endpoints/${good.body.id}/deliveries`).expect(200)).body.items;
      await eventually(async () => (await deliveries()).filter((d) => d.status === 'delivered').length === 2, 10000, 'two deliveries delivered');
      const delivered = (await deliveries()).map((d) => d.id);
      // A delivery still pending, as old: written here with no job, so that no retry fails it
      // first (a real one is failed for good once older than WEBHOOK_RETRY_HOURS, which the
      // retention must cover).
      const [{ id: pendingId }] = await t.dataSource.query(
        `INSERT INTO webhook_deliveries (endpoint_id, event_id, event_type, next_attempt_at, created_at)
         VALUES ($1, gen_random_uuid(), 'tariff.created', now(), now() - interval '40 days') RETURNING id`,
        [good.body.id],
      );
      await t.dataSource.query(`UPDATE webhook_deliveries SET created_at = now() - interval '31 days' WHERE status <> 'pending'`);
      const settled = Number((await t.dataSource.query(`SELECT count(*) AS n FROM webhook_deliveries WHERE status <> 'pending'`))[0].n);
      expect(settled).toBeGreaterThanOrEqual(2);

      expect(await t.app.get(WebhookDeliveriesPruner).prune()).toBe(settled);
      expect((await deliveries()).map((d) => [d.id, d.status])).toEqual([[pendingId, 'pending']]);
      expect((await t.dataSource.query(`SELECT count(*)::int AS n FROM webhook_attempts WHERE delivery_id = ANY ($1::uuid[])`, [delivered]))[0].n).toBe(0);

      // A young one is kept.
      await settledSequence(root);
      await eventually(async () => (await deliveries()).some((d) => d.status === 'delivered'), 10000, 'a new delivery');
      expect(await t.app.get(WebhookDeliveriesPruner).prune()).toBe(0);
      expect((await deliveries()).map((d) => d.status).sort()).toEqual(['delivered', 'pending']);
    } finally {
      await ok.stop();
    }
  });
});

describe('events retention: its bounds and its timer', () => {
  it('keeps what the webhook dispatcher has not read, and deletes it once it has', async () => {
    // The dispatcher reads the feed at start, then every minute: events made after start wait for it.
    const t = await startTestApp({ EVENTS_PRUNE_INTERVAL_MS: '86400000', WEBHOOK_DISPATCH_INTERVAL_MS: '60000' });
    try {
      const root = await loginRoot(t);
      const read = await settledSequence(root);
      t.app.get(WebhookRuntime).wakeDispatcher();
      await eventually(async () => (await dispatchedThrough(t)) >= read, 10000, 'the dispatcher to read the feed once');
      expect(await dispatchedThrough(t)).toBe(read);
      await createCustomer(t, root);
      const last = await settledSequence(root);
      await age(t, last, 31);
      const pruner = t.app.get(EventPruner);
      const first = await oldestKept(t);
      expect(await pruner.prune()).toBe(read + 1 - first);
      expect(await oldestKept(t)).toBe(read + 1);
      t.app.get(WebhookRuntime).wakeDispatcher();
      await eventually(async () => (await dispatchedThrough(t)) >= last, 10000, 'the dispatcher to read the rest');
      await pruner.prune();
      expect(await oldestKept(t)).toBe(last);
    } finally {
      await t.close();
    }
  });

  it('runs on its own every EVENTS_PRUNE_INTERVAL_MS, and not at all with EVENTS_RETENTION_DAYS=0', async () => {
    const timed = await startTestApp({ EVENTS_PRUNE_INTERVAL_MS: '100' });
    const off = await startTestApp({ EVENTS_RETENTION_DAYS: '0', EVENTS_PRUNE_INTERVAL_MS: '100' });
    try {
      const newest = new Map<TestApp, number>();
      const first = new Map<TestApp, number>();
      for (const t of [timed, off]) {
        const root = await loginRoot(t);
        await createCustomer(t, root);
        const last = await settledSequence(root);
        await eventually(async () => (await dispatchedThrough(t)) >= last, 10000, 'the dispatcher to read the feed');
        first.set(t, await oldestKept(t));
        newest.set(t, last);
        await age(t, last, 31);
      }
      await eventually(async () => (await oldestKept(timed)) === newest.get(timed), 15000, 'the timer to prune');
      await new Promise((resolve) => setTimeout(resolve, 500)); // five of the other app's intervals
      expect(await off.app.get(EventPruner).prune()).toBe(0);
      expect(await off.app.get(WebhookDeliveriesPruner).prune()).toBe(0);
      expect(await oldestKept(off)).toBe(first.get(off));
      expect(first.get(off)).toBeLessThan(newest.get(off)!);
    } finally {
      await timed.close();
      await off.close();
    }
  });
});
