import { randomUUID } from 'node:crypto';
import { Actor, createCustomer, createTariff, expectProblem, loginRoot, uniqueName } from './setup/factories';
import { feed, feedUntil, FeedEvent, settledSequence } from './setup/events';
import { startTestApp, TestApp } from './setup/test-app';
import { EVENT_TYPES } from '../src/events/event-types';

const DECK_HEADER = 'prefix,price,firstInterval,nextInterval,connectFee,effectiveFrom';

/**
 * The outbox (SPEC §14): every audited change, every ledger entry and every rated call has
 * its event, with the subject and data of its type; a refused or rolled-back posting has none;
 * `balance.low` fires once per downward crossing of `lowBalanceThreshold`.
 */
describe('events of changes', () => {
  let t: TestApp;
  let root: Actor;
  let a: Actor;

  beforeAll(async () => {
    t = await startTestApp({ WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true' });
    root = await loginRoot(t);
    a = await createCustomer(t, root, { name: 'A', balance: '100' });
  });
  afterAll(() => t.close());

  const operate = (actor: Actor, kind: 'customers' | 'accounts', id: string, body: object) =>
    actor.post(`/v1/${kind}/${id}/balance-operations`, body).set('Idempotency-Key', randomUUID());

  /** The events after `after` once one about `subjectId` of `type` is there (the relay runs after commit). */
  const eventsUntil = (after: number, type: string, subjectId: string, count = 1) =>
    feedUntil(root, (events) => events.filter((e) => e.type === type && e.subject.id === subjectId).length >= count, after);
  const only = (events: FeedEvent[], type: string, subjectId: string) => events.filter((e) => e.type === type && e.subject.id === subjectId);

  it('customer.created, .updated and .deleted carry the audited change (secrets masked) and the actor', async () => {
    const from = await settledSequence(root);
    const tariffId = await createTariff(root);
    const created = await root
      .post('/v1/customers', { name: uniqueName(), tariffId, webLogin: uniqueName('l'), webPassword: 'password-123', lowBalanceThreshold: '5' })
      .expect(201);
    const id: string = created.body.id;
    await root.patch(`/v1/customers/${id}`, { name: 'renamed' }).expect(200);
    await root.delete(`/v1/customers/${id}`).expect(204);
    const events = await eventsUntil(from, 'customer.deleted', id);
    const [c] = only(events, 'customer.created', id);
    expect(c).toMatchObject({ subject: { type: 'customer', id }, actor: root.id, data: { target: { type: 'customer', id } } });
    expect(c.data.changes.after).toMatchObject({ webPassword: '***', lowBalanceThreshold: '5.00', tariffId });
    expect(typeof c.id).toBe('string');
    expect(new Date(c.occurredAt).toISOString()).toBe(c.occurredAt);
    const [u] = only(events, 'customer.updated', id);
    expect(u.data.changes).toMatchObject({ before: { name: created.body.name }, after: { name: 'renamed' } });
    const [d] = only(events, 'customer.deleted', id);
    expect(d.data.changes).toMatchObject({ after: null });
    expect(c.sequence).toBeLessThan(u.sequence);
    expect(u.sequence).toBeLessThan(d.sequence);
    // The audit trail and the feed tell the same story.
    expect(only(events, 'customer.created', id)).toHaveLength(1);
  });

  it('account.*, tariff.*, rate.created and rates.replaced (a CSV deck) appear with their subjects', async () => {
    const from = await settledSequence(root);
    const tariffId = await createTariff(a, { name: uniqueName('t') });
    await a.patch(`/v1/tariffs/${tariffId}`, { description: 'changed' }).expect(200);
    const rate = await a.post(`/v1/tariffs/${tariffId}/rates`, { prefix: '44', price: '0.01' }).expect(201);
    await t
      .http()
      .put(`/v1/tariffs/${tariffId}/rates`)
      .set('Authorization', `Bearer ${a.token}`)
      .set('content-type', 'text/csv')
      .send(`${DECK_HEADER}\n33,0.02,1,1,0,2020-01-01T00:00:00.000Z\n34,0.03,,,,\n`)
      .expect(200);
    const account = await a
      .post('/v1/accounts', { customerId: a.id, username: uniqueName('sip'), webPassword: 'password-123', voipPassword: 'voip-secret-1', tariffId, lowBalanceThreshold: '1.5' })
      .expect(201);
    expect(account.body.lowBalanceThreshold).toBe('1.50');
    await a.patch(`/v1/accounts/${account.body.id}`, { maxSessions: 3 }).expect(200);
    await a.delete(`/v1/accounts/${account.body.id}`).expect(204);
    const other = await createTariff(a);
    await a.delete(`/v1/tariffs/${other}`).expect(204);

    const events = await eventsUntil(from, 'tariff.deleted', other);
    const about = (type: string, id: string) => {
      const found = only(events, type, id);
      expect({ type, count: found.length }).toEqual({ type, count: 1 });
      return found[0];
    };
    expect(about('tariff.created', tariffId)).toMatchObject({ subject: { type: 'tariff' }, actor: a.id });
    expect(about('tariff.updated', tariffId).data.changes.after.description).toBe('changed');
    expect(about('rate.created', rate.body.id).data.changes.after).toMatchObject({ prefix: '44', price: '0.01' });
    const deck = about('rates.replaced', tariffId);
    expect(deck).toMatchObject({ subject: { type: 'tariff', id: tariffId }, data: { target: { type: 'tariff', id: tariffId } } });
    const created = about('account.created', account.body.id);
    expect(created.data.changes.after).toMatchObject({ customerId: a.id, voipPassword: '***', webPassword: '***' });
    expect(about('account.updated', account.body.id).data.changes.after.maxSessions).toBe(3);
    expect(about('account.deleted', account.body.id).subject.type).toBe('account');
    about('tariff.deleted', other);
    // Every event type written is a known one (the same list `types` accepts).
    for (const e of events) expect((await root.get(`/v1/events?types=${e.type}&limit=1`)).status).toBe(200);
  });

  it('the other audited changes: rates, exchange rates, API keys, permissions, routing groups, settings, logins, /v1/me', async () => {
    const from = await settledSequence(root);
    const tariffId = await createTariff(a);
    const rate = await a.post(`/v1/tariffs/${tariffId}/rates`, { prefix: '49', price: '0.02' }).expect(201);
    await a.patch(`/v1/tariffs/${tariffId}/rates/${rate.body.id}`, { price: '0.03' }).expect(200);
    await a.delete(`/v1/tariffs/${tariffId}/rates/${rate.body.id}`).expect(204);
    await a.put('/v1/exchange-rates/EUR', { rate: '1.1' }).expect(200);
    await a.delete('/v1/exchange-rates/EUR').expect(204);
    const key = await a.post('/v1/api-keys', { name: uniqueName('k') }).expect(201);
    await a.delete(`/v1/api-keys/${key.body.id}`).expect(204);
    const perms = await root.get(`/v1/customers/${a.id}/permissions`).expect(200);
    await root.put(`/v1/customers/${a.id}/permissions`, { permissions: perms.body.permissions }).expect(200);
    const group = await root.post('/v1/routing-groups', { name: uniqueName('g'), policy: 'priority' }).expect(201);
    await root.patch(`/v1/routing-groups/${group.body.id}`, { name: uniqueName('g2') }).expect(200);
    await root.delete(`/v1/routing-groups/${group.body.id}`).expect(204);
    await root.patch('/v1/system/settings', { maxDepth: 12 }).expect(200);
    await t.http().post('/v1/auth/login').send({ login: a.login, password: 'wrong-password' }).expect(401);
    await t.http().post('/v1/auth/login').send({ login: a.login, password: a.password }).expect(200);
    await a.patch('/v1/me', { timeZone: 'Europe/Paris' }).expect(200);

    const events = await eventsUntil(from, 'customer.updated', a.id);
    const summary = events.map((e) => `${e.type} ${e.subject.type}`);
    expect(summary).toEqual([
      'tariff.created tariff',
      'rate.created rate',
      'rate.updated rate',
      'rate.deleted rate',
      'exchange-rate.updated exchange-rate',
      'exchange-rate.deleted exchange-rate',
      'api-key.created api-key',
      'api-key.revoked api-key',
      'permissions.replaced permissions',
      'routing-group.created routing-group',
      'routing-group.updated routing-group',
      'routing-group.deleted routing-group',
      'system-settings.updated system-settings',
      'session.created session',
      'customer.updated customer',
    ]);
    const key0 = events.find((e) => e.type === 'api-key.created')!;
    expect(key0.data.changes.after.apiKey).toBe('***');
    expect(events.find((e) => e.type === 'exchange-rate.updated')!).toMatchObject({ subject: { id: 'EUR' }, data: { changes: { after: { rate: '1.1' } } } });
    // The customer's own change through /v1/me is a customer.updated made by itself.
    expect(events[events.length - 1]).toMatchObject({ actor: a.id, data: { changes: { after: { timeZone: 'Europe/Paris' } } } });
  });

  it('balance.changed per ledger entry, a batch included, with the entry as the API shows it', async () => {
    const from = await settledSequence(root);
    const single = await operate(root, 'customers', a.id, { action: 'add_funds', amount: '10', notes: 'top-up' }).expect(201);
    const batch = await root
      .post('/v1/balance-operations/batch', {
        operations: [
          { customerId: a.id, action: 'debit', amount: '1.5' },
          { customerId: a.id, action: 'credit', amount: '0.25' },
          { customerId: a.id, action: 'debit', amount: '2' },
        ],
      })
      .set('Idempotency-Key', randomUUID())
      .expect(201);
    const events = await eventsUntil(from, 'balance.changed', a.id, 4);
    const changed = only(events, 'balance.changed', a.id);
    expect(changed).toHaveLength(4);
    const entries = [single.body, ...batch.body.items];
    changed.forEach((e, i) => {
      const entry = entries[i];
      expect(e).toMatchObject({ subject: { type: 'customer', id: a.id }, actor: root.id });
      expect(e.data).toEqual({
        holder: { type: 'customer', id: a.id },
        entry: {
          id: entry.id,
          action: entry.action,
          amount: entry.amount,
          currency: entry.currency,
          exchangeRate: entry.exchangeRate,
          convertedAmount: entry.convertedAmount,
          balanceAfter: entry.balanceAfter,
          notes: entry.notes,
          createdAt: entry.createdAt,
          externalReference: null,
          metadata: {},
        },
      });
    });
    expect(changed.map((e) => e.data.entry.balanceAfter)).toEqual(['110.00', '108.50', '108.75', '106.75']);
  });

  it('a refused posting and a refused batch emit nothing', async () => {
    const from = await settledSequence(root);
    const poor = await createCustomer(t, root, { balance: '1' });
    await eventsUntil(from, 'balance.changed', poor.id);
    // Settled after the customer's creation and its login (session.created), whose events the
    // relay may number a moment later: nothing before this sequence is left to arrive.
    const before = await settledSequence(root);
    const refused = await operate(root, 'customers', poor.id, { action: 'debit', amount: '5' });
    expectProblem(refused, 422);
    const batch = await root
      .post('/v1/balance-operations/batch', {
        operations: [
          { customerId: poor.id, action: 'add_funds', amount: '3' },
          { customerId: a.id, action: 'credit', amount: '1' },
          { customerId: poor.id, action: 'debit', amount: '100' },
        ],
      })
      .set('Idempotency-Key', randomUUID());
    expectProblem(batch, 422);
    expect(batch.body.type).toMatch(/batch-refused$/);
    // A change made after both: once its event is in the feed, anything they wrote would be too.
    const marker = await createTariff(root);
    const after = await eventsUntil(before, 'tariff.created', marker);
    expect(after.map((e) => `${e.type} ${e.subject.id}`)).toEqual([`tariff.created ${marker}`]);
  });

  it('balance.low fires once when 40 concurrent debits cross the threshold, and again after rising to it and falling', async () => {
    const holder = await createCustomer(t, root, { balance: '100', lowBalanceThreshold: '50' });
    const from = await settledSequence(root);
    const debits = await Promise.all(Array.from({ length: 40 }, () => operate(root, 'customers', holder.id, { action: 'debit', amount: '2' })));
    expect(debits.map((r) => r.status)).toEqual(Array(40).fill(201));
    let events = await eventsUntil(from, 'balance.changed', holder.id, 40);
    let low = only(events, 'balance.low', holder.id);
    expect(low).toHaveLength(1);
    const crossing = only(events, 'balance.changed', holder.id).find((e) => e.data.entry.id === low[0].data.entryId)!;
    expect(crossing.data.entry.balanceAfter).toBe(low[0].data.balance);
    expect(Number(low[0].data.balance)).toBeLessThan(50);
    expect(Number(low[0].data.balance) + 2).toBeGreaterThanOrEqual(50);
    expect(low[0]).toMatchObject({ subject: { type: 'customer', id: holder.id }, data: { holder: { type: 'customer', id: holder.id }, lowBalanceThreshold: '50.00' } });
    expect(low[0].sequence).toBe(crossing.sequence + 1);

    // Up to the threshold exactly (no event: not below), then below again: fires again.
    await operate(root, 'customers', holder.id, { action: 'add_funds', amount: '30' }).expect(201); // 20 → 50
    await operate(root, 'customers', holder.id, { action: 'debit', amount: '0.01' }).expect(201); // 49.99
    await operate(root, 'customers', holder.id, { action: 'debit', amount: '1' }).expect(201); // 48.99: still below, no event
    events = await eventsUntil(from, 'balance.changed', holder.id, 43);
    low = only(events, 'balance.low', holder.id);
    expect(low.map((e) => e.data.balance)).toEqual([expect.any(String), '49.99']);

    // PATCH sets and clears the threshold; null means no alert.
    const patched = await root.patch(`/v1/customers/${holder.id}`, { lowBalanceThreshold: null }).expect(200);
    expect(patched.body.lowBalanceThreshold).toBeNull();
    await operate(root, 'customers', holder.id, { action: 'add_funds', amount: '100' }).expect(201);
    await operate(root, 'customers', holder.id, { action: 'debit', amount: '100' }).expect(201);
    events = await eventsUntil(from, 'balance.changed', holder.id, 45);
    expect(only(events, 'balance.low', holder.id)).toHaveLength(2);
  });

  it('balance.low on an account: once for 40 concurrent overdrafts through zero', async () => {
    const tariffId = await createTariff(a);
    const account = await a
      .post('/v1/accounts', { customerId: a.id, username: uniqueName('sip'), webPassword: 'password-123', voipPassword: 'voip-secret-1', tariffId, balance: '10', lowBalanceThreshold: '0' })
      .expect(201);
    const id: string = account.body.id;
    const from = await settledSequence(root);
    const debits = await Promise.all(Array.from({ length: 40 }, () => operate(a, 'accounts', id, { action: 'debit', amount: '1', allowOverdraft: true })));
    expect(debits.map((r) => r.status)).toEqual(Array(40).fill(201));
    const events = await eventsUntil(from, 'balance.changed', id, 40);
    const low = only(events, 'balance.low', id);
    expect(low).toHaveLength(1);
    expect(low[0].data).toMatchObject({ holder: { type: 'account', id }, balance: '-1.00', lowBalanceThreshold: '0.00' });
    expect((await a.get(`/v1/accounts/${id}`).expect(200)).body.balance).toBe('-30.00');
  });

  it('lowBalanceThreshold is validated like creditLimit, shown on reads and audited', async () => {
    for (const bad of ['-1', '1.123456789', 5, 'abc', '']) {
      const res = await root.patch(`/v1/customers/${a.id}`, { lowBalanceThreshold: bad });
      expectProblem(res, 400);
      expect(JSON.stringify(res.body.errors)).toContain('lowBalanceThreshold');
    }
    const from = await settledSequence(root);
    await root.patch(`/v1/customers/${a.id}`, { lowBalanceThreshold: '12.345' }).expect(200);
    expect((await root.get(`/v1/customers/${a.id}`).expect(200)).body.lowBalanceThreshold).toBe('12.345');
    expect((await a.get('/v1/me').expect(200)).body.lowBalanceThreshold).toBe('12.345');
    const events = await eventsUntil(from, 'customer.updated', a.id);
    expect(only(events, 'customer.updated', a.id)[0].data.changes).toMatchObject({ before: { lowBalanceThreshold: null }, after: { lowBalanceThreshold: '12.345' } });
    const audit = await root.get(`/v1/audit-events?targetId=${a.id}&limit=1`).expect(200);
    expect(audit.body.items[0].changes.after.lowBalanceThreshold).toBe('12.345');
  });

  it('call.rated once per call (its level-0 charge), without charges', async () => {
    // Rated through POST /v1/calls: a's account on a's tariff, a on the root's.
    const tariffId = await createTariff(a);
    await a.post(`/v1/tariffs/${tariffId}/rates`, { prefix: '44', price: '0.01', effectiveFrom: '2026-01-01T00:00:00.000Z' }).expect(201);
    const aTariff: string = (await root.get(`/v1/customers/${a.id}`).expect(200)).body.tariffId;
    await root.post(`/v1/tariffs/${aTariff}/rates`, { prefix: '4', price: '0.005', effectiveFrom: '2026-01-01T00:00:00.000Z' }).expect(201);
    const account = await a
      .post('/v1/accounts', { customerId: a.id, username: uniqueName('sip'), webPassword: 'password-123', voipPassword: 'voip-secret-1', tariffId })
      .expect(201);
    const from = await settledSequence(root);
    const posted = await root
      .post('/v1/calls', { calls: [{ callId: 'sw-call-1', accountId: account.body.id, number: '441234', connectTime: '2026-01-02T03:04:05.678Z', duration: 61 }] })
      .expect(200);
    expect(posted.body.items[0].status).toBe('rated');
    const callUuid: string = posted.body.items[0].call.id;
    const events = await eventsUntil(from, 'call.rated', callUuid);
    const rated = only(events, 'call.rated', callUuid);
    expect(rated).toHaveLength(1);
    expect(rated[0]).toMatchObject({ subject: { type: 'call', id: callUuid }, actor: root.id });
    expect(rated[0].data).toEqual({
      id: callUuid,
      callId: 'sw-call-1',
      accountId: account.body.id,
      customerId: a.id,
      number: '441234',
      connectTime: '2026-01-02T03:04:05.678Z',
      duration: 61,
    });
    // Posting calls is audited (usage.calls-posted) but is not an event type: the feed holds
    // only types a reader may filter on and an endpoint may subscribe to.
    const webhook = await root.post('/v1/webhook-endpoints', { url: 'http://127.0.0.1:9/canopy', events: ['webhook-endpoint.created'] });
    expect(webhook.status).toBe(201);
    const all = await feedUntil(root, (e) => e.some((x) => x.subject.id === webhook.body.id), from);
    expect(all.filter((e) => e.subject.id === webhook.body.id).map((e) => e.type)).toEqual(['webhook-endpoint.created']);
    expect(all.map((e) => e.type).filter((type) => !(EVENT_TYPES as readonly string[]).includes(type))).toEqual([]);
    // The account's customer sees it; the actor above it does not show.
    const seen = await feed(a, from, '&types=call.rated');
    expect(seen.map((e) => [e.subject.id, e.actor])).toEqual([[callUuid, null]]);
  });
});
