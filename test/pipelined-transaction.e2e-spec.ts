import { randomUUID } from 'node:crypto';
import { Connection } from 'pg';
import type { EntityManager } from 'typeorm';
import type { PostgresQueryRunner } from 'typeorm/driver/postgres/PostgresQueryRunner';
import { preparedQuery } from '../src/database/prepared';
import { pipelinedTransaction } from '../src/database/transactions';
import { Actor, createCustomer, loginRoot } from './setup/factories';
import { startTestApp, TestApp } from './setup/test-app';

/**
 * A pipelined transaction (src/database/transactions.ts) sends its BEGIN in the same round trip
 * as its first statement and its COMMIT with the statement that asks for it: the group commit
 * of postings writes in three round trips instead of five. What must hold: a failed statement
 * is never committed and leaves nothing behind (nor a failed transaction on the pooled
 * connection); the statement's rows are its own; a statement through TypeORM first still runs
 * inside the transaction. Round trips are counted as the Sync and simple-query messages
 * node-postgres sends (the app runs in this process).
 */
describe('pipelined transactions', () => {
  let t: TestApp;
  let root: Actor;
  /** Per connection, what node-postgres sent: B (BEGIN in a pipeline), C (COMMIT in a pipeline), S (Sync: a round trip), Q (a simple query: a round trip). */
  const sent = new Map<unknown, string[]>();
  const originals: Array<() => void> = [];

  beforeAll(async () => {
    t = await startTestApp();
    root = await loginRoot(t);
    await t.dataSource.query(`CREATE TABLE pipeline_probe (n int PRIMARY KEY)`);
    const proto = Connection.prototype as unknown as Record<string, (...args: unknown[]) => unknown>;
    const record = (connection: unknown, what: string) => (sent.get(connection) ?? sent.set(connection, []).get(connection)!).push(what);
    for (const message of ['parse', 'sync', 'query'] as const) {
      const original = proto[message];
      proto[message] = function (this: unknown, ...args: unknown[]) {
        if (message === 'sync') record(this, 'S');
        else if (message === 'query') record(this, 'Q');
        else if ((args[0] as { text: string }).text === 'BEGIN') record(this, 'B');
        else if ((args[0] as { text: string }).text === 'COMMIT') record(this, 'C');
        return original.apply(this, args);
      };
      originals.push(() => (proto[message] = original));
    }
  });
  afterAll(async () => {
    for (const restore of originals) restore();
    await t.close();
  });

  /** The connection a transaction runs on (node-postgres's Connection, as the spies see it). */
  const connectionOf = async (tx: EntityManager) => ((await (tx.queryRunner as PostgresQueryRunner).connect()) as { connection: unknown }).connection;
  /** What was sent on `connection` since `from` (an index into its record). */
  const since = (connection: unknown, from: number) => (sent.get(connection) ?? []).slice(from).join('');

  const probe = async () => ((await t.dataSource.query(`SELECT n FROM pipeline_probe ORDER BY n`)) as Array<{ n: number }>).map((r) => r.n);
  const clean = () => t.dataSource.query(`TRUNCATE pipeline_probe`);

  it('BEGIN with the first statement, COMMIT with the last: two round trips for two statements, both committed', async () => {
    await clean();
    let connection: unknown;
    let from = 0;
    const rows = await pipelinedTransaction(t.dataSource, async (tx) => {
      connection = await connectionOf(tx);
      from = sent.get(connection)?.length ?? 0;
      const first = await preparedQuery<{ n: number }>(tx, `INSERT INTO pipeline_probe (n) VALUES ($1) RETURNING n`, [1]);
      const last = await preparedQuery<{ n: number; open: boolean }>(
        tx,
        `INSERT INTO pipeline_probe (n) VALUES ($1) RETURNING n, now() = statement_timestamp() AS open`,
        [2],
        { commit: true },
      );
      return [first, last];
    });
    expect(since(connection, from)).toBe('BSCS');
    // Each statement's own rows; the second ran in the transaction the first began (now() is its start).
    expect(rows).toEqual([[{ n: 1 }], [{ n: 2, open: false }]]);
    expect(await probe()).toEqual([1, 2]);
  });

  it('a statement that fails is not committed with it, its transaction is rolled back, and the connection is clean after', async () => {
    await clean();
    const failing = pipelinedTransaction(t.dataSource, async (tx) => {
      await preparedQuery(tx, `INSERT INTO pipeline_probe (n) VALUES ($1)`, [1]);
      // A duplicate key: PostgreSQL stops there, before the COMMIT sent with it.
      await preparedQuery(tx, `INSERT INTO pipeline_probe (n) VALUES ($1), ($1)`, [2], { commit: true });
    });
    await expect(failing).rejects.toMatchObject({ code: '23505' });
    expect(await probe()).toEqual([]);
    // Every pooled connection still takes statements (none was left in a failed transaction).
    const answers = await Promise.all(Array.from({ length: t.config.DB_POOL_SIZE }, () => t.dataSource.query(`SELECT 1 AS one`)));
    expect(answers.flat()).toEqual(Array.from({ length: t.config.DB_POOL_SIZE }, () => ({ one: 1 })));
  });

  it('work that fails after its statements rolls them back; with no statement asking, COMMIT is sent after the work', async () => {
    await clean();
    await expect(
      pipelinedTransaction(t.dataSource, async (tx) => {
        await preparedQuery(tx, `INSERT INTO pipeline_probe (n) VALUES ($1)`, [1]);
        throw new Error('decided against it');
      }),
    ).rejects.toThrow('decided against it');
    expect(await probe()).toEqual([]);
    let connection: unknown;
    let from = 0;
    await pipelinedTransaction(t.dataSource, async (tx) => {
      connection = await connectionOf(tx);
      from = sent.get(connection)?.length ?? 0;
      await preparedQuery(tx, `INSERT INTO pipeline_probe (n) VALUES ($1)`, [3]);
    });
    // The statement with BEGIN, then COMMIT as a query of its own.
    expect(since(connection, from)).toBe('BSQ');
    expect(await probe()).toEqual([3]);
  });

  it('a statement through TypeORM first runs inside the transaction (BEGIN sent before it)', async () => {
    await clean();
    await expect(
      pipelinedTransaction(t.dataSource, async (tx) => {
        await tx.query(`INSERT INTO pipeline_probe (n) VALUES (1)`);
        await preparedQuery(tx, `INSERT INTO pipeline_probe (n) VALUES ($1), ($1)`, [2], { commit: true });
      }),
    ).rejects.toMatchObject({ code: '23505' });
    expect(await probe()).toEqual([]);
  });

  it('no statement may follow the one that committed (it would run outside the transaction)', async () => {
    await clean();
    await expect(
      pipelinedTransaction(t.dataSource, async (tx) => {
        await preparedQuery(tx, `INSERT INTO pipeline_probe (n) VALUES ($1)`, [1], { commit: true });
        await preparedQuery(tx, `INSERT INTO pipeline_probe (n) VALUES ($1)`, [2]);
      }),
    ).rejects.toThrow('a statement after the pipelined transaction committed');
    await expect(
      pipelinedTransaction(t.dataSource, async (tx) => {
        await preparedQuery(tx, `INSERT INTO pipeline_probe (n) VALUES ($1)`, [3], { commit: true });
        await tx.query(`INSERT INTO pipeline_probe (n) VALUES (4)`);
      }),
    ).rejects.toThrow('a statement after the pipelined transaction committed');
    // What committed stays; what came after never ran.
    expect(await probe()).toEqual([1, 3]);
  });

  it('only a statement of a pipelined transaction may commit', async () => {
    await expect(t.dataSource.transaction((tx) => preparedQuery(tx, `SELECT 1`, [], { commit: true }))).rejects.toThrow(
      'only a statement of a pipelined transaction commits it',
    );
  });

  it('a group of postings through HTTP that the one statement decides: each its own answer, no transaction', async () => {
    const c = await createCustomer(t, root, { balance: '0.00', creditLimit: '0' });
    const keys = Array.from({ length: 8 }, () => randomUUID());
    const from = new Map([...sent].map(([connection, log]) => [connection, log.length]));
    const answers = await Promise.all(
      keys.map((key, i) =>
        root
          .post(`/v1/customers/${c.id}/balance-operations`, { action: 'add_funds', amount: `${i + 1}.00` })
          .set('Idempotency-Key', key),
      ),
    );
    // Fresh keys, one holder, credits: the one statement writes them all, no BEGIN anywhere.
    expect([...sent].map(([connection, log]) => log.slice(from.get(connection) ?? 0).join('')).join('')).not.toMatch(/[BC]/);
    expect(answers.map((a) => a.status)).toEqual(keys.map(() => 201));
    expect(new Set(answers.map((a) => a.body.amount))).toEqual(new Set(keys.map((_, i) => `${i + 1}.00`)));
    const balance = await root.get(`/v1/customers/${c.id}`).expect(200);
    expect(balance.body.balance).toBe('36.00');
  });

  it('a group of postings through HTTP that only the transaction decides: each its own answer, all committed, in three round trips', async () => {
    // Debits past the credit limit: the one statement writes none; the group's transaction refuses each.
    const c = await createCustomer(t, root, { balance: '0.00', creditLimit: '0' });
    const keys = Array.from({ length: 8 }, () => randomUUID());
    const from = new Map([...sent].map(([connection, log]) => [connection, log.length]));
    const answers = await Promise.all(
      keys.map((key) => root.post(`/v1/customers/${c.id}/balance-operations`, { action: 'debit', amount: '1.00' }).set('Idempotency-Key', key)),
    );
    // Every group's transaction, on its connection: BEGIN with the claim, the lock, COMMIT with the write.
    const groups = [...sent].flatMap(([connection, log]) => log.slice(from.get(connection) ?? 0).join('').match(/B[^B]*?C[^B]*?S/g) ?? []);
    expect(groups.length).toBeGreaterThan(0);
    expect(new Set(groups)).toEqual(new Set(['BSSCS']));
    expect(answers.map((a) => a.status)).toEqual(keys.map(() => 422));
    for (const a of answers) expect(a.body).toMatchObject({ type: 'https://canopy.dev/problems/insufficient-funds', availableCredit: '0.00' });
    // Each refusal was recorded with its key: it replays.
    const again = await root.post(`/v1/customers/${c.id}/balance-operations`, { action: 'debit', amount: '1.00' }).set('Idempotency-Key', keys[0]);
    expect(again.status).toBe(422);
    expect(again.headers['idempotent-replayed']).toBe('true');
    const balance = await root.get(`/v1/customers/${c.id}`).expect(200);
    expect(balance.body.balance).toBe('0.00');
  });
});
