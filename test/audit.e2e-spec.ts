import { randomUUID } from 'node:crypto';
import { Actor, createCustomer, createTariff, login, loginRoot } from './setup/factories';
import { startTestApp, TestApp } from './setup/test-app';

interface Event {
  actor: string | null;
  action: string;
  targetType: string;
  targetId: string | null;
  changes: Record<string, Record<string, unknown> | null> | null;
  requestId: string | null;
}

async function allEvents(actor: Actor, query = ''): Promise<Event[]> {
  const events: Event[] = [];
  let cursor: string | null = null;
  do {
    const res: { body: { items: Event[]; nextCursor: string | null } } = await actor.get(`/v1/audit-events?limit=200${query}${cursor ? `&cursor=${cursor}` : ''}`).expect(200);
    events.push(...res.body.items);
    cursor = res.body.nextCursor;
  } while (cursor);
  return events;
}

describe('audit events', () => {
  let t: TestApp;
  let root: Actor, a: Actor, b: Actor, c: Actor;

  beforeAll(async () => {
    t = await startTestApp();
    root = await loginRoot(t);
    a = await createCustomer(t, root, { name: 'A', balance: '5' });
    b = await createCustomer(t, root, { name: 'B' });
    c = await createCustomer(t, a, { name: 'C' });
  });
  afterAll(() => t.close());

  it('records every kind of change in the product, with secrets masked', async () => {
    const patch = await a.patch(`/v1/customers/${c.id}`, { creditLimit: '12.5', webPassword: 'new-password-1' }).set('X-Request-Id', 'audit-req-1').expect(200);
    expect(patch.status).toBe(200);
    const tariffId = await createTariff(a, { name: 'audited' });
    await a.patch(`/v1/tariffs/${tariffId}`, { description: 'changed' }).expect(200);
    await a.post(`/v1/tariffs/${tariffId}/rates`, { prefix: '44', price: '0.01' }).expect(201);
    await t
      .http()
      .put(`/v1/tariffs/${tariffId}/rates?mode=merge`)
      .set('Authorization', `Bearer ${a.token}`)
      .set('content-type', 'text/csv')
      .send('prefix,price,firstInterval,nextInterval,connectFee,effectiveFrom\n33,0.02,1,1,0,2020-01-01T00:00:00.000Z\n')
      .expect(200);
    await a.put('/v1/exchange-rates/EUR', { rate: '1.2' }).expect(200);
    await a.delete('/v1/exchange-rates/EUR').expect(204);
    const key = await a.post('/v1/api-keys', { name: 'k' }).expect(201);
    await a.delete(`/v1/api-keys/${key.body.id}`).expect(204);
    await a.post(`/v1/customers/${c.id}/balance-operations`, { action: 'add_funds', amount: '3' }).set('Idempotency-Key', randomUUID()).expect(201);
    await t.http().post('/v1/auth/login').send({ login: a.login, password: 'wrong-password' }).expect(401);
    await login(t, a.login, a.password);

    const events = await allEvents(root);
    const actions = events.map((e) => e.action);
    for (const action of [
      'customer.create',
      'customer.update',
      'tariff.create',
      'tariff.update',
      'rate.create',
      'rate-deck.merge',
      'exchange-rate.set',
      'exchange-rate.delete',
      'api-key.create',
      'api-key.revoke',
      'balance.add_funds',
      'session.login',
      'session.login-failed',
    ]) {
      expect(actions).toContain(action);
    }
    const update = events.find((e) => e.action === 'customer.update' && e.targetId === c.id)!;
    expect(update.requestId).toBe('audit-req-1');
    expect(update.actor).toBe(a.id);
    expect(update.changes!.before!.creditLimit).toBe('0.00000000');
    expect(update.changes!.after!.creditLimit).toBe('12.50000000');
    expect(update.changes!.after!.webPassword).toBe('***');
    const created = events.find((e) => e.action === 'api-key.create')!;
    expect(created.changes!.after!.apiKey).toBe('***');
    const text = JSON.stringify(events);
    expect(text).not.toContain('new-password-1');
    expect(text).not.toContain(key.body.apiKey);
    expect(text).not.toContain('$argon2');
  });

  it('shows a customer only events on its own subtree, with actors above it as null', async () => {
    c = await login(t, c.login, 'new-password-1'); // its password was changed above
    const cEvents = await allEvents(c);
    expect(cEvents.length).toBeGreaterThan(0);
    const cIds = new Set([c.id]);
    for (const e of cEvents) {
      if (e.targetType === 'customer' || e.targetType === 'session') expect(cIds.has(e.targetId!)).toBe(true);
      expect(e.actor === null || e.actor === c.id).toBe(true);
    }
    expect(cEvents.some((e) => e.action === 'balance.add_funds' && e.actor === null)).toBe(true);
    const bEvents = await allEvents(b);
    expect(bEvents.every((e) => e.targetId !== a.id && e.targetId !== c.id)).toBe(true);
    const aEvents = await allEvents(a);
    expect(aEvents.some((e) => e.targetId === b.id)).toBe(false);
    expect(aEvents.find((e) => e.action === 'customer.create' && e.targetId === a.id)?.actor).toBeNull();
    await c.get(`/v1/audit-events?customerId=${a.id}`).expect(404);
    await b.get(`/v1/audit-events?customerId=${c.id}`).expect(404);
    const narrowed = await allEvents(a, `&customerId=${c.id}`);
    expect(narrowed.length).toBeGreaterThan(0);
    expect(narrowed.every((e) => e.targetId !== a.id)).toBe(true);
  });
});

describe('audit events of balance operations', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('record money the same way whichever path applied the operation', async () => {
    const root = await loginRoot(t);
    const c = await createCustomer(t, root, { baseCurrency: 'EUR' });
    await root.put('/v1/exchange-rates/EUR', { rate: '2' }).expect(200);
    // In the customer's own currency (one statement), then converted (the transactional path).
    const direct = await root.post(`/v1/customers/${c.id}/balance-operations`, { action: 'add_funds', amount: '10' }).set('Idempotency-Key', randomUUID()).expect(201);
    const converted = await root
      .post(`/v1/customers/${c.id}/balance-operations`, { action: 'debit', amount: '4', currency: 'USD' })
      .set('Idempotency-Key', randomUUID())
      .expect(201);
    const events = await allEvents(root, `&targetType=balance-operation`);
    const after = (id: string) => events.find((e) => e.targetId === id)!.changes!.after;
    expect(after(direct.body.id)).toEqual({ customerId: c.id, amount: '10.00', currency: 'EUR', exchangeRate: '1.0', convertedAmount: '10.00', balanceAfter: '10.00' });
    expect(after(converted.body.id)).toEqual({ customerId: c.id, amount: '4.00', currency: 'USD', exchangeRate: '0.5', convertedAmount: '-2.00', balanceAfter: '8.00' });
  });

  it('store no copy of the entry: the log renders it from the entry, and shows a copy stored before as stored', async () => {
    const root = await loginRoot(t);
    const c = await createCustomer(t, root);
    const posted = await Promise.all(
      ['5', '7'].map((amount) => root.post(`/v1/customers/${c.id}/balance-operations`, { action: 'add_funds', amount }).set('Idempotency-Key', randomUUID()).expect(201)),
    );
    const ids = posted.map((p) => p.body.id as string);
    const stored: Array<{ target_id: string; changes: unknown }> = await t.dataSource.query(
      `SELECT target_id, changes FROM audit_events WHERE target_type = 'balance-operation' AND target_id = ANY ($1::text[])`,
      [ids],
    );
    expect(stored).toHaveLength(2);
    expect(stored.every((row) => row.changes === null)).toBe(true);
    // An event written before migration 1765300100000 holds its copy, which wins; an event of
    // another kind with a target id that is not a UUID is listed beside them (no cast of it).
    await t.dataSource.query(`UPDATE audit_events SET changes = '{"after": {"copied": true}}' WHERE target_id = $1`, [ids[0]]);
    await t.dataSource.query(
      `INSERT INTO audit_events (actor_id, action, target_type, target_id, subject_path, changes)
       SELECT NULL, 'rate.update', 'rate', 'not-a-uuid', path, NULL FROM customers WHERE id = $1`,
      [c.id],
    );
    const events = await allEvents(root, `&customerId=${c.id}`);
    const byTarget = new Map(events.map((e) => [e.targetId, e]));
    expect(byTarget.get(ids[0])!.changes).toEqual({ after: { copied: true } });
    const balanceAfter = posted[1].body.balanceAfter as string;
    expect(byTarget.get(ids[1])!.changes).toEqual({
      after: { customerId: c.id, amount: '7.00', currency: posted[1].body.currency, exchangeRate: '1.0', convertedAmount: '7.00', balanceAfter },
    });
    expect(byTarget.get('not-a-uuid')).toMatchObject({ action: 'rate.update', changes: null });
  });
});
