import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { EventsRepository, RELAY_POSITION_AHEAD } from '../src/events/events.repository';
import { EventRelay } from '../src/events/relay';
import { Actor, createCustomer, loginRoot } from './setup/factories';
import { feed, FeedEvent } from './setup/events';
import { startTestApp, TestApp } from './setup/test-app';

/**
 * The ledger's events are read by the relay from the ledger itself (migration
 * 1764900000000-LedgerEventsByRelay): no outbox row per entry, a position kept in the ledger,
 * and `balance.low` decided by the posting under the holder's lock. The relay here runs only
 * when woken (and at start), in passes of 7 rows, so that a backlog takes many passes.
 */
describe('events of ledger entries, read by the relay from the ledger', () => {
  let t: TestApp;
  let root: Actor;
  let client: Client;

  beforeAll(async () => {
    t = await startTestApp({ EVENTS_RELAY_INTERVAL_MS: '60000', EVENTS_RELAY_BATCH: '7' });
    root = await loginRoot(t);
    client = new Client({ connectionString: t.config.DATABASE_URL });
    await client.connect();
  });
  afterAll(async () => {
    await client.end();
    await t.close();
  });

  /** The feed after `after` once `done` holds (or after 20 s), waking the relay meanwhile. */
  async function feedWhen(after: number, done: (events: FeedEvent[]) => boolean): Promise<FeedEvent[]> {
    const deadline = Date.now() + 20000;
    for (;;) {
      t.app.get(EventRelay).wake();
      const events = await feed(root, after);
      if (done(events) || Date.now() > deadline) return events;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  const lastSequence = async () => {
    const [row] = await t.dataSource.query(`SELECT COALESCE(max(sequence), 0)::int AS s FROM events`);
    return row.s as number;
  };
  const post = (customerId: string, action: string, amount: string) =>
    root.post(`/v1/customers/${customerId}/balance-operations`, { action, amount }).set('Idempotency-Key', randomUUID()).expect(201);

  it('a ledger statement writes no outbox row; each entry carries its transaction id', async () => {
    const [{ id: rootId }] = await t.dataSource.query(`SELECT id FROM customers WHERE depth = 0`);
    await client.query('BEGIN');
    try {
      await client.query(
        `INSERT INTO ledger_entries (id, customer_id, action, amount, currency, exchange_rate, converted_amount, balance_after, actor_id)
         SELECT gen_random_uuid(), $1, 'credit', 1.25, 'USD', 1, 1.25, 1.25 * g, $1 FROM generate_series(1, 1000) g`,
        [rootId],
      );
      const { rows } = await client.query(
        `SELECT (SELECT count(*) FROM event_outbox WHERE txid = pg_current_xact_id())::int AS outbox,
                (SELECT count(*) FROM ledger_entries WHERE txid = pg_current_xact_id())::int AS entries,
                (SELECT count(*) FROM event_backlog WHERE txid = pg_current_xact_id())::int AS waiting`,
      );
      expect(rows[0]).toEqual({ outbox: 0, entries: 1000, waiting: 1000 });
    } finally {
      await client.query('ROLLBACK');
    }
  });

  it('an entry of an older transaction that commits after a newer posting comes first in the feed, each once', async () => {
    const x = await createCustomer(t, root, { balance: '10' });
    const y = await createCustomer(t, root, { balance: '10' });
    const after = (await feedWhen(0, (e) => e.some((v) => v.type === 'balance.changed' && v.subject.id === y.id))).at(-1)!.sequence;

    // An older transaction writes an entry of x and stays open; a newer posting of y commits.
    await client.query('BEGIN');
    let older: string;
    try {
      const { rows } = await client.query(
        `INSERT INTO ledger_entries (customer_id, action, amount, currency, exchange_rate, converted_amount, balance_after, actor_id)
         SELECT $1, 'credit', 1, 'USD', 1, 1, 11, $1 RETURNING id`,
        [x.id],
      );
      older = rows[0].id;
      const newer = (await post(y.id, 'add_funds', '2.00')).body.id as string;
      // While the older transaction runs, the newer posting's event waits (it would otherwise be numbered before x's).
      await new Promise((resolve) => setTimeout(resolve, 300));
      t.app.get(EventRelay).wake();
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect((await feed(root, after)).filter((e) => e.type === 'balance.changed')).toEqual([]);
      await client.query('COMMIT');
      const events = await feedWhen(after, (e) => e.filter((v) => v.type === 'balance.changed').length >= 2);
      const changes = events.filter((e) => e.type === 'balance.changed');
      expect(changes.map((e) => e.data.entry.id)).toEqual([older, newer]);
      expect(changes.map((e) => e.subject.id)).toEqual([x.id, y.id]);
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }

    // A later posting follows them, and nothing is repeated.
    const later = (await post(x.id, 'debit', '1.00')).body.id as string;
    const events = await feedWhen(after, (e) => e.some((v) => v.type === 'balance.changed' && v.data.entry.id === later));
    const changes = events.filter((e) => e.type === 'balance.changed').map((e) => e.data.entry.id);
    expect(changes).toEqual([older, expect.any(String), later]);
  });

  it('balance.low is decided by the posting: a threshold changed before the relay runs does not change it', async () => {
    const holder = await createCustomer(t, root, { balance: '100', lowBalanceThreshold: '50' });
    const after = await lastSequence();
    const debit = (await post(holder.id, 'debit', '60.00')).body.id as string;
    // Lowered before the relay has read the entry (it runs only when woken here): 40 is not below 10.
    await root.patch(`/v1/customers/${holder.id}`, { lowBalanceThreshold: '10' }).expect(200);
    const events = await feedWhen(after, (e) => e.some((v) => v.type === 'balance.low' && v.subject.id === holder.id));
    const low = events.filter((e) => e.type === 'balance.low' && e.subject.id === holder.id);
    expect(low.map((e) => e.data)).toEqual([
      { holder: { type: 'customer', id: holder.id }, balance: '40.00', lowBalanceThreshold: '50.00', entryId: debit },
    ]);
    // And one raised above the balance later gives no event for an entry that crossed nothing.
    await root.patch(`/v1/customers/${holder.id}`, { lowBalanceThreshold: '100' }).expect(200);
    const credit = (await post(holder.id, 'add_funds', '1.00')).body.id as string;
    const more = await feedWhen(after, (e) => e.some((v) => v.type === 'balance.changed' && v.data.entry.id === credit));
    expect(more.filter((e) => e.type === 'balance.low' && e.subject.id === holder.id)).toHaveLength(1);
  });

  it('an event of an entry stores no copy of it: it names the entry, and the feed renders the entry as the ledger shows it', async () => {
    const holder = await createCustomer(t, root, { balance: '100', lowBalanceThreshold: '50' });
    const after = await lastSequence();
    const posted = (await root
      .post(`/v1/customers/${holder.id}/balance-operations`, { action: 'debit', amount: '60.125', notes: 'n', externalReference: 'ref-1', metadata: { k: 'v' } })
      .set('Idempotency-Key', randomUUID())
      .expect(201)).body;
    const events = await feedWhen(after, (e) => e.some((v) => v.type === 'balance.low' && v.subject.id === holder.id));
    const mine = events.filter((e) => e.subject.id === holder.id && e.type.startsWith('balance.') && (e.data.entry?.id ?? e.data.entryId) === posted.id);
    expect(mine.map((e) => e.type)).toEqual(['balance.changed', 'balance.low']);
    const stored = await t.dataSource.query(
      `SELECT e.data, e.ledger_seq = l.seq AS names_entry FROM events e JOIN ledger_entries l ON l.id = $2 WHERE e.sequence = ANY ($1::bigint[]) ORDER BY e.sequence`,
      [mine.map((e) => e.sequence), posted.id],
    );
    expect(stored).toEqual([
      { data: null, names_entry: true },
      { data: null, names_entry: true },
    ]);
    const { actor, idempotencyKey, ...entry } = posted;
    expect(idempotencyKey).toEqual(expect.any(String)); // the ledger list shows it; an event does not
    expect(actor).toBe(root.id);
    expect(mine[0].data).toEqual({ holder: { type: 'customer', id: holder.id }, entry });
    expect(mine[1].data).toEqual({ holder: { type: 'customer', id: holder.id }, balance: '39.875', lowBalanceThreshold: '50.00', entryId: posted.id });
    // Their ids are time-ordered (UUID version 7): the event's time, then its sequence.
    for (const e of mine) {
      const hex = e.id.replace(/-/g, '');
      expect(e.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-8[0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(parseInt(hex.slice(0, 12), 16)).toBe(Date.parse(e.occurredAt));
      expect(parseInt(hex.slice(13, 16) + hex.slice(17), 16)).toBe(e.sequence);
    }
    // An event holds either its data or its entry, never neither.
    await expect(t.dataSource.query(`UPDATE events SET ledger_seq = NULL WHERE sequence = $1`, [mine[0].sequence])).rejects.toThrow(/events_data_or_entry/);
  });

  it('a position ahead of the cluster’s transaction ids (a logical restore) stops the relay; re-based, new entries flow and none repeats', async () => {
    const holder = await createCustomer(t, root, { balance: '3' });
    const opening = await feedWhen(0, (e) => e.some((v) => v.type === 'balance.changed' && v.subject.id === holder.id));
    const after = opening.at(-1)!.sequence;
    // Nothing waits: the opening entry is in, and so, once relayed, is what followed it (the new
    // customer's login, an outbox row committed after it, which a loaded machine relays later).
    const backlog = async () => (await t.dataSource.query(`SELECT count(*)::int AS n FROM event_backlog`))[0].n as number;
    for (const deadline = Date.now() + 20000; (await backlog()) > 0 && Date.now() < deadline; ) {
      t.app.get(EventRelay).wake();
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(await backlog()).toBe(0);

    // As a dump restored into a new cluster finds it: a position its transaction ids are far below.
    await t.dataSource.query(`UPDATE event_relay_position SET ledger_txid = '999999999999'`);
    await expect(t.app.get(EventsRepository).relay(7)).rejects.toThrow(RELAY_POSITION_AHEAD);

    // The README's re-base, before Canopy takes postings on the restored database.
    await t.dataSource.query(
      `UPDATE event_relay_position SET ledger_txid = '0', ledger_seq = 0, ledger_seq_floor = (SELECT COALESCE(max(seq), 0) FROM ledger_entries)`,
    );
    const credit = (await post(holder.id, 'add_funds', '1.00')).body.id as string;
    const events = await feedWhen(after, (e) => e.some((v) => v.type === 'balance.changed' && v.data.entry.id === credit));
    expect(events.filter((e) => e.type === 'balance.changed').map((e) => e.data.entry.id)).toEqual([credit]);
  });

  it('a backlog of outbox rows and entries over many passes: numbered 1 by 1, each once, a change’s own events in order', async () => {
    const after = await lastSequence();
    const created: Actor[] = [];
    for (let i = 0; i < 6; i++) created.push(await createCustomer(t, root, { balance: '5' }));
    const ops = created.flatMap((c) => [
      { customerId: c.id, action: 'add_funds', amount: '1.00' },
      { customerId: c.id, action: 'debit', amount: '2.00' },
    ]);
    const batch = await root.post('/v1/balance-operations/batch', { operations: ops }).set('Idempotency-Key', randomUUID()).expect(201);
    const batchIds: string[] = batch.body.items.map((r: { id: string }) => r.id);
    const events = await feedWhen(after, (e) => e.some((v) => v.type === 'balance.changed' && v.data.entry.id === batchIds.at(-1)));

    expect(events.map((e) => e.sequence)).toEqual(events.map((_, i) => after + 1 + i));
    expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
    const changes = events.filter((e) => e.type === 'balance.changed');
    // Each customer: created (its audit event through the outbox), then its opening entry, in its transaction's order.
    for (const c of created) {
      const own = events
        .filter((e) => e.subject.id === c.id && e.type !== 'session.created') // its login, in a later transaction
        .map((e) => (e.type === 'balance.changed' ? e.data.entry.action : e.type));
      expect(own).toEqual(['customer.created', 'opening_balance', 'add_funds', 'debit']);
    }
    // The batch's entries in the batch's order, after every opening.
    expect(changes.slice(-batchIds.length).map((e) => e.data.entry.id)).toEqual(batchIds);
    const [{ waiting }] = await t.dataSource.query(`SELECT count(*)::int AS waiting FROM event_backlog`);
    expect(waiting).toBe(0);
  });
});
