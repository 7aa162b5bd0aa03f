import { randomUUID } from 'node:crypto';
import type { Actor } from './factories';

/** An event as the feed answers it. */
export interface FeedEvent {
  id: string;
  sequence: number;
  type: string;
  occurredAt: string;
  subject: { type: string; id: string | null };
  actor: string | null;
  data: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** Every event of `actor`'s feed after `after` (from the feed's start without it; following cursors), as it stands now. */
export async function feed(actor: Actor, after?: number, query = ''): Promise<FeedEvent[]> {
  const events: FeedEvent[] = [];
  let cursor: string | null = null;
  do {
    const res: { body: { items: FeedEvent[]; nextCursor: string | null } } = await actor
      .get(`/v1/events?limit=200${after === undefined ? '' : `&after=${after}`}${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`)
      .expect(200);
    events.push(...res.body.items);
    cursor = res.body.nextCursor;
  } while (cursor);
  return events;
}

/**
 * The feed once `done` holds for it: events reach the feed through the relay shortly after
 * their commit, so a test waits for what it expects (up to 15 s), then asserts on it.
 */
export async function feedUntil(actor: Actor, done: (events: FeedEvent[]) => boolean, after?: number, query = ''): Promise<FeedEvent[]> {
  const deadline = Date.now() + 15000;
  for (;;) {
    const events = await feed(actor, after, query);
    if (done(events) || Date.now() > deadline) return events;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * The feed of `actor` up to now, settled: a marker change (a tariff of the actor's) is made
 * and awaited in the feed; every change committed before it has a lower sequence, so events
 * after the returned sequence are of later work only.
 */
export async function settledSequence(actor: Actor): Promise<number> {
  const marker = await actor.post('/v1/tariffs', { name: `marker-${randomUUID()}`, currency: 'USD' }).expect(201);
  const events = await feedUntil(actor, (e) => e.some((x) => x.subject.id === marker.body.id));
  const found = events.find((e) => e.subject.id === marker.body.id);
  if (!found) throw new Error('the marker never reached the feed');
  return found.sequence;
}
