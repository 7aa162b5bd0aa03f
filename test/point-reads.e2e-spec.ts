import { Socket } from 'node:net';
import { PointReads } from '../src/database/point-reads';
import { Actor, createAccount, createCustomer, loginRoot, seedRootChildren } from './setup/factories';
import { startTestApp, TestApp } from './setup/test-app';

/**
 * Point reads (a customer by id: every authenticated GET of one record) are pipelined on
 * connections of their own (src/database/point-reads.ts): the reads of one event-loop turn go
 * to PostgreSQL in one write, each with its own Sync. What must hold: every request gets its
 * own row; a read PostgreSQL refuses fails alone; a lost connection costs no request; the
 * connections close with the application.
 */
describe('point reads pipelined on connections of their own', () => {
  let t: TestApp;
  let root: Actor;
  let ids: string[];
  /** Writes to each socket (net.Socket's _writev and _write), while counting. */
  const writes = new Map<Socket, number>();
  let counting = false;
  const proto = Socket.prototype as unknown as Record<string, (...args: unknown[]) => unknown>;
  const originals = { _write: proto._write, _writev: proto._writev };

  beforeAll(async () => {
    t = await startTestApp();
    root = await loginRoot(t);
    ids = await seedRootChildren(t, 24, `point-${Date.now()}`);
    for (const method of ['_write', '_writev'] as const) {
      const original = originals[method];
      proto[method] = function (this: Socket, ...args: unknown[]) {
        if (counting) writes.set(this, (writes.get(this) ?? 0) + 1);
        return original.apply(this, args);
      };
    }
  });
  afterAll(async () => {
    Object.assign(proto, originals);
    await t.close();
  });

  const pointReadBackends = async () =>
    (await t.dataSource.query(`SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'canopy-point-reads'`)) as Array<{
      pid: number;
    }>;
  /** The sockets of the point-read connections (node-postgres clients inside the provider). */
  const laneSockets = () =>
    ((t.app.get(PointReads) as unknown as { lanes: Array<{ client: { connection: { stream: Socket } } } | undefined> }).lanes ?? [])
      .filter((lane) => lane !== undefined)
      .map((lane) => lane!.client.connection.stream);

  it('concurrent GETs each get their own customer, read over the point-read connections', async () => {
    await root.get(`/v1/customers/${ids[0]}`).expect(200); // opens a lane
    writes.clear();
    counting = true;
    const responses = await Promise.all(ids.map((id) => root.get(`/v1/customers/${id}`)));
    counting = false;
    for (const [i, res] of responses.entries()) {
      expect(res.status).toBe(200);
      expect(res.body.id).toBe(ids[i]);
      expect(res.body.name).toMatch(new RegExp(`-${i + 1}$`));
    }
    const sockets = laneSockets();
    expect(sockets.length).toBeGreaterThan(0);
    expect(sockets.reduce((sum, socket) => sum + (writes.get(socket) ?? 0), 0)).toBeGreaterThan(0);
    expect((await pointReadBackends()).length).toBe(sockets.length);
  });

  it('an account by id is a point read too: its owner and the root see it, a sibling gets the 404 problem', async () => {
    const owner = await createCustomer(t, root);
    const sibling = await createCustomer(t, root);
    const account = await createAccount(root, owner);
    writes.clear();
    counting = true;
    const [byOwner, byRoot, bySibling] = await Promise.all([owner, root, sibling].map((actor) => actor.get(`/v1/accounts/${account.id}`)));
    counting = false;
    expect([byOwner.status, byOwner.body.id, byRoot.status, byRoot.body.id]).toEqual([200, account.id, 200, account.id]);
    expect(bySibling.status).toBe(404);
    expect(bySibling.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(laneSockets().reduce((sum, socket) => sum + (writes.get(socket) ?? 0), 0)).toBeGreaterThan(0);
  });

  it('the reads of one event-loop turn go to PostgreSQL in one write, each answered with its own rows', async () => {
    const reads = t.app.get(PointReads);
    const byId = (id: string) => reads.query<{ id: string; name: string }>(`SELECT id, name FROM customers WHERE id = $1`, [id]);
    await Promise.all([byId(ids[0]), new Promise((resolve) => setImmediate(resolve)).then(() => byId(ids[1]))]); // prepared on both lanes
    writes.clear();
    counting = true;
    const rows = await Promise.all(ids.map(byId));
    counting = false;
    expect(rows.map((r) => r[0].id)).toEqual(ids);
    const laneWrites = laneSockets().map((socket) => writes.get(socket) ?? 0);
    expect(laneWrites.reduce((a, b) => a + b, 0)).toBe(1);
  });

  it('a customer out of scope is still a 404 problem, and an unknown id too', async () => {
    const res = await root.get(`/v1/customers/00000000-0000-4000-8000-000000000000`);
    expect(res.status).toBe(404);
    expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(res.body).toMatchObject({ status: 404 });
  });

  it('a read PostgreSQL refuses fails alone: the reads written with it get their rows', async () => {
    const reads = t.app.get(PointReads);
    const divide = (n: number) => reads.query<{ q: number }>(`SELECT 12 / $1::int AS q`, [n]);
    await divide(1); // the statement is prepared on a lane
    const outcomes = await Promise.allSettled([divide(3), divide(0), divide(4), divide(6)]);
    expect(outcomes.map((o) => (o.status === 'fulfilled' ? o.value[0].q : (o.reason as { code: string }).code))).toEqual([4, '22012', 3, 2]);
    // The lane is still usable after the refusal.
    expect(await divide(2)).toEqual([{ q: 6 }]);
  });

  it('a lookup reads in its transaction when it has one, and a row lock without one is refused, never sent to a lane', async () => {
    const reads = t.app.get(PointReads);
    const text = `SELECT id FROM customers WHERE id = $1`;
    await expect(reads.lookup(text, [ids[2]], { lock: 'FOR UPDATE' })).rejects.toThrow('a row lock (FOR UPDATE) is taken inside a transaction');
    // In the transaction: the lookup sees the transaction's own id, which a lane's read would not.
    const [outer, inner] = await t.dataSource.transaction(async (tx) => {
      const own = ((await tx.query(`SELECT txid_current()::text AS xid`)) as Array<{ xid: string }>)[0].xid;
      const looked = await reads.lookup<{ id: string; xid: string }>(`SELECT id, txid_current()::text AS xid FROM customers WHERE id = $1 FOR UPDATE`, [ids[2]], {
        tx,
        lock: 'FOR UPDATE',
      });
      return [own, looked];
    });
    expect(inner).toEqual([{ id: ids[2], xid: outer }]);
  });

  it('a lost connection costs no request: its reads run again on the pool, and a new connection is opened', async () => {
    await root.get(`/v1/customers/${ids[1]}`).expect(200);
    const before = await pointReadBackends();
    expect(before.length).toBeGreaterThan(0);
    await t.dataSource.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'canopy-point-reads' AND datname = current_database()`);
    const responses = await Promise.all(ids.slice(0, 8).map((id) => root.get(`/v1/customers/${id}`)));
    expect(responses.map((r) => [r.status, r.body.id])).toEqual(ids.slice(0, 8).map((id) => [200, id]));
    // Later reads open fresh connections.
    for (let i = 0; i < 4; i++) await root.get(`/v1/customers/${ids[i]}`).expect(200);
    const after = await pointReadBackends();
    expect(after.length).toBeGreaterThan(0);
    expect(after.map((b) => b.pid).filter((pid) => before.some((b) => b.pid === pid))).toEqual([]);
  });

  it('a read in flight when its connection is terminated is answered from the pool', async () => {
    const reads = t.app.get(PointReads);
    const slow = reads.query<{ n: number }>(`SELECT n FROM pg_sleep(0.5), LATERAL (SELECT $1::int AS n) v`, [7]);
    // Once the read is running on its lane, that backend is terminated (PostgreSQL answers it FATAL 57P01).
    let running: Array<{ pid: number }> = [];
    for (let i = 0; i < 50 && !running.length; i++) {
      running = await t.dataSource.query(
        `SELECT pid FROM pg_stat_activity WHERE application_name = 'canopy-point-reads' AND datname = current_database() AND query LIKE '%pg_sleep(0.5)%' AND state = 'active'`,
      );
      if (!running.length) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(running.length).toBe(1);
    await t.dataSource.query(`SELECT pg_terminate_backend($1)`, [running[0].pid]);
    expect(await slow).toEqual([{ n: 7 }]);
  });

  it('the connections close with the application', async () => {
    const other = await startTestApp();
    try {
      const otherRoot = await loginRoot(other);
      await otherRoot.get(`/v1/customers/${otherRoot.id}`).expect(200);
      const database = ((await other.dataSource.query(`SELECT current_database() AS name`)) as Array<{ name: string }>)[0].name;
      const open = async () =>
        Number(
          (
            (await t.dataSource.query(`SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = 'canopy-point-reads' AND datname = $1`, [database])) as Array<{ n: string }>
          )[0].n,
        );
      expect(await open()).toBeGreaterThan(0);
      await other.app.close();
      // The backend's exit is asynchronous to the client's end.
      for (let i = 0; i < 50 && (await open()) > 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(await open()).toBe(0);
    } finally {
      await other.close().catch(() => undefined);
    }
  });
});
