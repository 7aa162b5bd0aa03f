import { randomUUID } from 'node:crypto';
import { Actor, createCustomer, createTariff, expectProblem, loginRoot } from './setup/factories';
import { feed, FeedEvent, feedUntil, settledSequence } from './setup/events';
import { startSecondInstance, SecondInstance, startTestApp, TestApp } from './setup/test-app';

describe('GET /v1/events', () => {
  let t: TestApp;
  let root: Actor;

  beforeAll(async () => {
    t = await startTestApp({ METRICS_TOKEN: 'events-metrics-token-0123' });
    root = await loginRoot(t);
  });
  afterAll(() => t.close());

  it('answers a change with its event, numbered from 1', async () => {
    const tariffId = await createTariff(root, { name: 'feed-first' });
    const events = await feedUntil(root, (e) => e.some((x) => x.subject.id === tariffId));
    const created = events.find((e) => e.subject.id === tariffId)!;
    expect(created).toMatchObject({ type: 'tariff.created', subject: { type: 'tariff', id: tariffId }, actor: root.id });
    expect(created.data.changes.after.name).toBe('feed-first');
    expect(events.map((e) => e.sequence)).toEqual(events.map((_, i) => i + 1));
  });

  it('pages with opaque cursors, filters by `after` and `types`', async () => {
    const ids = [await createTariff(root), await createTariff(root), await createTariff(root)];
    const all = await feedUntil(root, (e) => ids.every((id) => e.some((x) => x.subject.id === id)));
    const pages: FeedEvent[] = [];
    let cursor: string | null = null;
    do {
      const res: { body: { items: FeedEvent[]; nextCursor: string | null } } = await root
        .get(`/v1/events?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`)
        .expect(200);
      expect(res.body.items.length).toBeLessThanOrEqual(2);
      pages.push(...res.body.items);
      cursor = res.body.nextCursor;
      if (cursor) expect(cursor).not.toMatch(/^\d+$/);
    } while (cursor);
    expect(pages.map((e) => e.sequence)).toEqual(all.map((e) => e.sequence));
    const middle = all[all.length - 2].sequence;
    expect((await feed(root, middle)).map((e) => e.sequence)).toEqual([middle + 1]);
    const created = await feed(root, 0, '&types=tariff.created,balance.low');
    expect(created.length).toBeGreaterThanOrEqual(3);
    expect(created.every((e) => e.type === 'tariff.created')).toBe(true);
    expect(await feed(root, 0, '&types=balance.low')).toEqual([]);
  });

  it('counts the events its relay moved on /metrics (one instance: all of them)', async () => {
    const tariffId = await createTariff(root);
    const events = await feedUntil(root, (e) => e.some((x) => x.subject.id === tariffId));
    const expected = `canopy_events_relayed_total ${events[events.length - 1].sequence}\n`;
    // The relay counts once its commit has returned, which may be just after a reader sees it.
    let text = '';
    for (let i = 0; i < 100 && !text.includes(expected); i++) {
      if (i) await new Promise((resolve) => setTimeout(resolve, 50));
      text = (await t.http().get('/metrics').set('authorization', 'Bearer events-metrics-token-0123').expect(200)).text;
    }
    expect(text).toContain(expected);
    expect(text).toContain('canopy_event_relay_failures_total 0\n');
  });

  it('refuses bad parameters with a 400 naming them', async () => {
    const cases: Array<[string, string]> = [
      ['types=bogus', 'types'],
      ['types=tariff.created,nope', 'types'],
      ['types=', 'types'],
      ['after=-1', 'after'],
      ['after=1.5', 'after'],
      ['after=abc', 'after'],
      ['limit=0', 'limit'],
      ['limit=201', 'limit'],
      ['cursor=not-a-cursor', 'cursor'],
    ];
    for (const [query, name] of cases) {
      const res = await root.get(`/v1/events?${query}`);
      expectProblem(res, 400);
      expect({ query, body: JSON.stringify(res.body) }).toEqual({ query, body: expect.stringContaining(name) });
    }
    // A cursor of another list is refused too.
    const audit = await root.get('/v1/audit-events?limit=1').expect(200);
    expectProblem(await root.get(`/v1/events?cursor=${encodeURIComponent(audit.body.nextCursor)}`), 400);
    await t.http().get('/v1/events').expect(401);
  });

  it('scope: the feed of C never carries an event about its parent, siblings or their subtrees; actors above are null', async () => {
    // Every tariff is named, so that each subject is known to lie inside C's subtree or outside it.
    const outside = new Set<string>([root.id]);
    const inside = new Set<string>();
    const tariffOf = async (owner: Actor, set: Set<string>) => {
      const id = await createTariff(owner);
      set.add(id);
      return id;
    };
    const p = await createCustomer(t, root, { name: 'P', balance: '100', tariffId: await tariffOf(root, outside) });
    const c = await createCustomer(t, p, { name: 'C', tariffId: await tariffOf(p, outside) });
    const s = await createCustomer(t, p, { name: 'S', tariffId: await tariffOf(p, outside) });
    const c1 = await createCustomer(t, c, { name: 'C1', tariffId: await tariffOf(c, inside) });
    const s1 = await createCustomer(t, s, { name: 'S1', tariffId: await tariffOf(s, outside) });
    for (const id of [p.id, s.id, s1.id]) outside.add(id);
    for (const id of [c.id, c1.id]) inside.add(id);
    for (const actor of [root, p, s, s1]) await tariffOf(actor, outside);
    for (const actor of [c, c1]) await tariffOf(actor, inside);
    await p.patch(`/v1/customers/${c.id}`, { creditLimit: '5' }).expect(200);
    await p.patch(`/v1/customers/${s.id}`, { creditLimit: '5' }).expect(200);
    await root.patch(`/v1/customers/${p.id}`, { creditLimit: '5' }).expect(200);
    for (const [actor, target] of [[p, c], [p, s], [c, c1], [s, s1], [root, p]] as Array<[Actor, Actor]>) {
      await actor.post(`/v1/customers/${target.id}/balance-operations`, { action: 'add_funds', amount: '1' }).set('Idempotency-Key', randomUUID()).expect(201);
    }
    const marker = await createTariff(c1);
    inside.add(marker);
    // Everything is in the root's feed once the last change is.
    const all = await feedUntil(root, (e) => e.some((x) => x.subject.id === marker));
    const fromC = await feed(c);
    expect(fromC.length).toBeGreaterThan(0);
    for (const e of fromC) {
      expect(outside.has(e.subject.id!)).toBe(false);
      expect(inside.has(e.subject.id!)).toBe(true);
      // Actors are shown only within C's subtree.
      expect(e.actor === null || e.actor === c.id || e.actor === c1.id).toBe(true);
    }
    // What C sees is exactly the root's events about C's subtree, in the same order.
    expect(fromC.map((e) => e.id)).toEqual(all.filter((e) => inside.has(e.subject.id!)).map((e) => e.id));
    const byP = fromC.filter((e) => e.type === 'customer.updated' && e.subject.id === c.id);
    expect(byP).toHaveLength(1);
    expect(byP[0].actor).toBeNull();
    expect(all.find((e) => e.id === byP[0].id)!.actor).toBe(p.id);
    expect(fromC.some((e) => e.type === 'balance.changed' && e.subject.id === c1.id && e.actor === c.id)).toBe(true);
    // C1 sees only its own.
    expect((await feed(c1)).every((e) => e.subject.id === c1.id || e.subject.id === marker || inside.has(e.subject.id!))).toBe(true);
    expect((await feed(c1)).some((e) => e.subject.id === c.id)).toBe(false);
    // P sees C's and S's subtrees, not the root's tariff.
    const fromP = await feed(p);
    expect(fromP.some((e) => e.subject.id === s1.id)).toBe(true);
    expect(fromP.some((e) => e.subject.id === c1.id)).toBe(true);
    expect(fromP.some((e) => e.subject.id === root.id)).toBe(false);
  });
});



/**
 * The feed's guarantee under load: 16 writers spread over two instances (each with its own
 * relay) while readers poll with `after`. A reader never gets a sequence at or below one it
 * has passed, and what it collects is exactly the whole feed: nothing skipped, nothing twice.
 */
describe('the feed read while 16 writers post on two instances', () => {
  let t: TestApp;
  let second: SecondInstance;
  let root: Actor;

  beforeAll(async () => {
    t = await startTestApp({ DB_POOL_SIZE: '12', EVENTS_RELAY_INTERVAL_MS: '20' });
    second = await startSecondInstance(t);
    root = await loginRoot(t);
  });
  afterAll(async () => {
    await second?.close();
    await t?.close();
  });

  it('a reader polling with `after` collects 1..N exactly once each, matching the work done', async () => {
    const parents = await Promise.all([0, 1, 2, 3].map((i) => createCustomer(t, root, { name: `W${i}`, balance: '1000' })));
    const child = await createCustomer(t, parents[0], { name: 'W0-child', balance: '10' });
    const instances = [() => t.http(), () => second.http()];
    const entryIds: string[] = [];
    const tariffIds: string[] = [];
    let writing = true;

    const writer = async (w: number) => {
      for (let i = 0; i < 25; i++) {
        const http = instances[(w + i) % 2]();
        if (i % 8 === 7) {
          const res = await http.post('/v1/tariffs').set('Authorization', `Bearer ${root.token}`).send({ name: `w${w}-${i}-${randomUUID()}`, currency: 'USD' });
          expect(res.status).toBe(201);
          tariffIds.push(res.body.id);
          continue;
        }
        const target = w % 5 === 4 ? child : parents[w % 4];
        const res = await http
          .post(`/v1/customers/${target.id}/balance-operations`)
          .set('Authorization', `Bearer ${(target === child ? parents[0] : root).token}`)
          .set('Idempotency-Key', randomUUID())
          .send({ action: i % 3 === 0 ? 'debit' : 'add_funds', amount: '0.5' });
        expect(res.status).toBe(201);
        entryIds.push(res.body.id);
      }
    };

    /** Polls with `after`, page by page, on alternating instances; checks every page as it comes. */
    const reader = async (actor: Actor, start: number) => {
      const seen: FeedEvent[] = [];
      let after = start;
      let polls = 0;
      let idle = 0;
      for (;;) {
        const http = instances[polls++ % 2]();
        const res = await http.get(`/v1/events?after=${after}&limit=${polls % 3 === 0 ? 7 : 200}`).set('Authorization', `Bearer ${actor.token}`);
        expect(res.status).toBe(200);
        const items: FeedEvent[] = res.body.items;
        for (const e of items) {
          // Never at or below a sequence already passed.
          expect(e.sequence).toBeGreaterThan(after);
          after = e.sequence;
          seen.push(e);
        }
        if (!writing && items.length === 0 && ++idle > 20) return seen;
        if (items.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
      }
    };

    // The readers start after the seed's events (and the markers that settle them).
    const startC = await settledSequence(parents[0]);
    const start = await settledSequence(root);
    const rootReader = reader(root, start);
    const subtreeReader = reader(parents[0], startC);
    await Promise.all(Array.from({ length: 16 }, (_, w) => writer(w)));
    // Wait until every write is in the feed, then let the readers drain.
    await feedUntil(root, (events) => {
      const ids = new Set(events.filter((e) => e.type === 'balance.changed').map((e) => e.data.entry.id as string));
      return entryIds.every((id) => ids.has(id));
    }, start);
    writing = false;
    const [seen, seenC] = await Promise.all([rootReader, subtreeReader]);

    // Root: exactly the sequences start+1..N, each once, and they are the whole feed.
    const final = await feed(root);
    const n = final[final.length - 1].sequence;
    expect(final.map((e) => e.sequence)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    expect(seen.map((e) => e.sequence)).toEqual(Array.from({ length: n - start }, (_, i) => start + i + 1));
    expect(seen.map((e) => e.id)).toEqual(final.slice(start).map((e) => e.id));
    // … and they are the events of the work done: one balance.changed per entry, one tariff.created per tariff.
    const changed = seen.filter((e) => e.type === 'balance.changed').map((e) => e.data.entry.id as string);
    expect([...changed].sort()).toEqual([...entryIds].sort());
    expect(seen.filter((e) => e.type === 'tariff.created').map((e) => e.subject.id).sort()).toEqual([...tariffIds].sort());
    expect(seen).toHaveLength(entryIds.length + tariffIds.length);
    // A subtree reader too: exactly its subtree's part of the feed, in order.
    const finalC = await feed(parents[0], startC);
    expect(seenC.map((e) => e.id)).toEqual(finalC.map((e) => e.id));
    expect(seenC.length).toBeGreaterThan(0);
  }, 120000);
});
