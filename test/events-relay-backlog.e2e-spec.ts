import { randomUUID } from 'node:crypto';
import { EventRelay } from '../src/events/relay';
import { Actor, createCustomer, loginRoot } from './setup/factories';
import { feed, FeedEvent } from './setup/events';
import { startTestApp, TestApp } from './setup/test-app';

/**
 * The relay moves a backlog of thousands of outbox rows (batches, calls: 1,000 operations make
 * 1,000 rows) within the statement timeout. Its statement once joined the rows to take to the
 * outbox on (txid, n); with the outbox analyzed while nearly empty (as autovacuum finds it
 * between bursts) that join was a nested loop rescanning the rows per row, quadratic: 4,000
 * rows ran past a 2 s statement timeout (5,000, one batch of calls, past 30 s in the
 * benchmark), every pass failed, and the events never reached the feed.
 */
describe('event relay: a backlog of thousands of rows', () => {
  let t: TestApp;
  let root: Actor;

  beforeAll(async () => {
    // The relay runs at start and when woken (no pass of its own during the test).
    t = await startTestApp({ EVENTS_RELAY_INTERVAL_MS: '60000', DB_STATEMENT_TIMEOUT_MS: '2000', METRICS_TOKEN: 'relay-backlog-metrics-token' });
    root = await loginRoot(t);
  });
  afterAll(() => t.close());

  const batch = (customerId: string) =>
    root
      .post('/v1/balance-operations/batch', { operations: Array.from({ length: 1000 }, () => ({ customerId, action: 'add_funds', amount: '1.00' })) })
      .set('Idempotency-Key', randomUUID())
      .expect(201);

  /**
   * The feed once it holds `count` balance.changed events of `customerId` (or after 20 s), waking
   * the relay meanwhile: a pass takes only rows of transactions older than every one still
   * running in the whole cluster (other test files' databases included), so one pass may leave
   * a batch for the next.
   */
  async function changesOf(customerId: string, count: number): Promise<number> {
    let events: FeedEvent[] = [];
    for (let i = 0; i < 200; i++) {
      if (i > 0) t.app.get(EventRelay).wake();
      events = [...events, ...(await feed(root, events.length ? events[events.length - 1].sequence : 0))];
      const n = events.filter((e) => e.type === 'balance.changed' && e.subject.id === customerId).length;
      if (n >= count) return n;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return events.filter((e) => e.type === 'balance.changed' && e.subject.id === customerId).length;
  }

  it('moves 4,000 ready rows into the feed in one wake-up, without a failure', async () => {
    const customer = await createCustomer(t, root);
    const relay = t.app.get(EventRelay);
    // The outbox as autovacuum may find it between bursts: the pages of 4,000 rows already
    // relayed, free again, and one live row at the end; analyzed so, the planner expects about
    // one row however many are ready next.
    for (let b = 0; b < 4; b++) await batch(customer.id);
    relay.wake();
    expect(await changesOf(customer.id, 4000)).toBe(4000);
    await root.post(`/v1/customers/${customer.id}/balance-operations`, { action: 'add_funds', amount: '1.00' }).set('Idempotency-Key', randomUUID()).expect(201);
    await t.dataSource.query('VACUUM ANALYZE event_outbox');
    for (let b = 0; b < 4; b++) await batch(customer.id);
    relay.wake();
    expect(await changesOf(customer.id, 8001)).toBe(8001);
    const metrics = (await t.http().get('/metrics').set('authorization', 'Bearer relay-backlog-metrics-token').expect(200)).text;
    expect(metrics).toContain('canopy_event_relay_failures_total 0\n');
  });
});
