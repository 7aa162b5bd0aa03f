import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { Client } from 'pg';
import { Instance, MAIN, loginRoot, request } from '../scripts/chaos-lib';
import { createTestDatabase, dropTestDatabase, readTestDatabaseInfo } from './setup/test-database';
import { eventually, WebhookReceiver } from './setup/webhook-receiver';

/**
 * A SIGKILL in the middle of deliveries loses nothing: the jobs the dead instance held come
 * back after their expiry and another instance delivers them (at least once: the receiver may
 * see a webhook-id twice and de-duplicates). Built processes (dist/), as in production.
 */
describe('webhook deliveries across a SIGKILL', () => {
  const info = readTestDatabaseInfo();
  let db: { url: string; name: string };
  const receiver = new WebhookReceiver();
  const env = {
    WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true',
    WEBHOOK_DISPATCH_INTERVAL_MS: '50',
    WEBHOOK_TIMEOUT_MS: '3000',
    WEBHOOK_JOB_EXPIRE_SECONDS: '4',
    WEBHOOK_RETRY_BASE_MS: '20',
    WEBHOOK_RETRY_MAX_MS: '100',
    SHUTDOWN_GRACE_SECONDS: '2',
  };
  let a: Instance;
  let b: Instance | undefined;

  const sql = async <T>(text: string, params: unknown[] = []): Promise<T[]> => {
    const client = new Client({ connectionString: db.url });
    await client.connect();
    try {
      return (await client.query(text, params)).rows as T[];
    } finally {
      await client.end();
    }
  };

  beforeAll(async () => {
    if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npm run build\` first (\`npm test\` builds in pretest).`);
    db = await createTestDatabase(info);
    a = await new Instance('A', db.url, env).start();
  }, 90000);
  afterAll(async () => {
    await a?.kill();
    await b?.kill();
    await receiver.stop();
    await dropTestDatabase(info, db.name);
  });

  it('redelivers what the killed instance held, records only attempts that finished, and the survivor stops cleanly', async () => {
    const url = await receiver.start();
    let killed = false;
    receiver.answer = () => (killed ? 204 : 'hang'); // instance A never hears back
    const token = await loginRoot(a);
    const auth = { authorization: `Bearer ${token}` };
    const endpoint = await request(a.url, 'POST', '/v1/webhook-endpoints', { headers: auth, body: { url, events: ['customer.created', 'balance.changed'] } });
    expect(endpoint.status).toBe(201);
    const tariff = await request(a.url, 'POST', '/v1/tariffs', { headers: auth, body: { name: 'crash', currency: 'USD' } });
    const customer = await request(a.url, 'POST', '/v1/customers', {
      headers: auth,
      body: { name: 'crash customer', tariffId: tariff.body.id, webLogin: `crash-${randomUUID().slice(0, 8)}`, webPassword: 'password-123' },
    });
    expect(customer.status).toBe(201);
    for (let i = 0; i < 5; i++) {
      const op = await request(a.url, 'POST', `/v1/customers/${customer.body.id}/balance-operations`, {
        headers: { ...auth, 'idempotency-key': randomUUID() },
        body: { action: 'credit', amount: '1' },
      });
      expect(op.status).toBe(201);
    }
    const test = await request(a.url, 'POST', `/v1/webhook-endpoints/${endpoint.body.id}/test`, { headers: auth });
    expect(test.status).toBe(202);
    // A is in the middle of delivering (the receiver holds its requests open): kill it.
    await eventually(() => receiver.requests.some((r) => r.id === test.body.event.id), 20000, 'A sending the test event');
    // What A had sent: a request still open now is cut by the kill; one already closed was
    // timed out by A (a slow machine can take over WEBHOOK_TIMEOUT_MS to get here), an attempt
    // A finished and recorded before retrying it.
    const cut = new Set(receiver.requests.filter((r) => r.answered === 'hang' && !r.closed).map((r) => r.id));
    const timedOut = new Map<string, number>();
    for (const r of receiver.requests) if (r.closed) timedOut.set(r.id, (timedOut.get(r.id) ?? 0) + 1);
    await a.kill();
    killed = true;

    b = await new Instance('B', db.url, env).start();
    // The test event's delivery was made at once; the others as the relay and the dispatcher
    // reached their events, which A may not have done for all of them before it was killed: B does.
    let expected: Array<{ event_id: string }> = [];
    await eventually(
      async () => {
        expected = await sql<{ event_id: string }>(`SELECT event_id FROM webhook_deliveries WHERE endpoint_id = $1`, [endpoint.body.id]);
        return expected.length >= 1 + 1 + 5;
      },
      30000,
      'a delivery for each event',
    );
    expect(expected.length).toBe(1 + 1 + 5); // the test event, customer.created, five balance.changed
    await eventually(() => expected.every((d) => receiver.delivered().has(d.event_id)), 30000, 'every delivery after the kill');
    await eventually(
      async () => (await sql<{ n: number }>(`SELECT count(*)::int AS n FROM webhook_deliveries WHERE endpoint_id = $1 AND status <> 'delivered'`, [endpoint.body.id]))[0].n === 0,
      20000,
      'every delivery recorded as delivered',
    );
    // The attempts cut by the kill were never recorded: a delivery cut by it shows the attempts
    // A finished before (timeouts, if any), numbered from 1 without a gap, then the one that succeeded.
    const attempts = await sql<{ event_id: string; n: number; status_code: number | null }>(
      `SELECT d.event_id, a.n, a.status_code FROM webhook_deliveries d JOIN webhook_attempts a ON a.delivery_id = d.id WHERE d.endpoint_id = $1 ORDER BY d.event_id, a.n`,
      [endpoint.body.id],
    );
    expect(cut.has(test.body.event.id)).toBe(true);
    for (const id of cut) {
      const mine = attempts.filter((x) => x.event_id === id);
      expect({ id, n: mine.map((x) => x.n) }).toEqual({ id, n: mine.map((_, i) => i + 1) });
      expect({ id, last: mine.at(-1)?.status_code, before: mine.slice(0, -1).map((x) => x.status_code) }).toEqual({
        id,
        last: 204,
        before: mine.slice(0, -1).map(() => null),
      });
      expect(mine.length - 1).toBeLessThanOrEqual(timedOut.get(id) ?? 0);
    }
    // B shuts down cleanly with its job queue.
    const stopped = await b.stop();
    expect(stopped).toMatchObject({ code: 0, timedOut: false });
  }, 120000);
});
