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

/** Every event of `actor`'s feed after `after` (following cursors), as it stands now. */
export async function feed(actor: Actor, after = 0, query = ''): Promise<FeedEvent[]> {
  const events: FeedEvent[] = [];
  let cursor: string | null = null;
  do {
    const res: { body: { items: FeedEvent[]; nextCursor: string | null } } = await actor
      .get(`/v1/events?limit=200&after=${after}${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`)
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
export async function feedUntil(actor: Actor, done: (events: FeedEvent[]) => boolean, after = 0, query = ''): Promise<FeedEvent[]> {
  const deadline = Date.now() + 15000;
  for (;;) {
    const events = await feed(actor, after, query);
    if (done(events) || Date.now() > deadline) return events;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The last sequence of `actor`'s feed now (0: none). */
export async function lastSequence(actor: Actor): Promise<number> {
  const events = await feed(actor);
  return events.length ? events[events.length - 1].sequence : 0;
}
