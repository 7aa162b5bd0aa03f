import type { Pool, PoolClient } from 'pg';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
import { shapedQuery } from '../src/database/shaped-query';
import { Actor, createCustomer, loginRoot } from './setup/factories';
import { startTestApp, TestApp } from './setup/test-app';

/**
 * The hot path's statements keep their result's description per connection
 * (src/database/shaped-query.ts): from the second run on a connection no Describe is sent,
 * and the rows are the ones node-postgres itself makes from the same text.
 */
describe('statements with a kept result shape', () => {
  let t: TestApp;
  let client: PoolClient;
  const sent = { parse: 0, describe: 0 };

  beforeAll(async () => {
    t = await startTestApp();
    client = await ((t.dataSource.driver as PostgresDriver).master as Pool).connect();
    const connection = (client as unknown as { connection: Record<string, (...args: unknown[]) => unknown> }).connection;
    for (const message of ['parse', 'describe'] as const) {
      const original = connection[message].bind(connection);
      connection[message] = (...args: unknown[]) => {
        sent[message]++;
        return original(...args);
      };
    }
  });
  afterAll(async () => {
    client.release(true);
    await t.close();
  });
  beforeEach(() => Object.assign(sent, { parse: 0, describe: 0 }));

  const TEXT = `SELECT $1::int AS n, timestamptz '2026-12-04 03:25:45.291+00' AS at, 1.50::numeric(20,2) AS amount, '{"a":[1,"x"]}'::jsonb AS doc,
                      NULL::text AS nothing, 12345678901::bigint AS big, ARRAY['a','b']::text[] AS list, true AS yes`;

  it('describes a named statement once per connection and gives the rows node-postgres gives', async () => {
    const plain = (await client.query(TEXT, [7])).rows;
    Object.assign(sent, { parse: 0, describe: 0 });
    const runs = [];
    for (let i = 0; i < 3; i++) runs.push(await shapedQuery(client, 'probe_named', TEXT, [7], 'probe_named'));
    expect(sent).toEqual({ parse: 1, describe: 1 });
    for (const rows of runs) expect(rows).toEqual(plain);
    expect(runs[2][0]).toEqual({ n: 7, at: new Date('2026-12-04T03:25:45.291Z'), amount: '1.50', doc: { a: [1, 'x'] }, nothing: null, big: '12345678901', list: ['a', 'b'], yes: true });
  });

  it('keeps the last of two columns of the same name, and NULLs of every type, as node-postgres does', async () => {
    const text = `SELECT 1 AS a, 'two' AS a, NULL::int AS n, NULL::timestamptz AS t, NULL::jsonb AS j, NULL::uuid AS u, $1::uuid AS id`;
    const values = ['6f1c1a52-6d3c-4f2a-9a55-0e0c3c1f0b11'];
    const plain = (await client.query(text, values)).rows;
    expect(plain).toEqual([{ a: 'two', n: null, t: null, j: null, u: null, id: values[0] }]);
    for (let i = 0; i < 2; i++) expect(await shapedQuery(client, 'probe_same_names', text, values)).toEqual(plain);
  });

  it('parses an unnamed statement each run but describes it once', async () => {
    for (let i = 0; i < 3; i++) expect(await shapedQuery(client, 'probe_unnamed', TEXT, [i])).toEqual([expect.objectContaining({ n: i, amount: '1.50' })]);
    expect(sent).toEqual({ parse: 3, describe: 1 });
  });

  it('gives an empty list for no rows, and errors as node-postgres does', async () => {
    await shapedQuery(client, 'probe_empty', `SELECT 1 AS one WHERE $1::int > 1`, [0]);
    expect(await shapedQuery(client, 'probe_empty', `SELECT 1 AS one WHERE $1::int > 1`, [0])).toEqual([]);
    expect(await shapedQuery(client, 'probe_empty', `SELECT 1 AS one WHERE $1::int > 1`, [2])).toEqual([{ one: 1 }]);
    await expect(shapedQuery(client, 'probe_error', `SELECT 1 / $1::int AS x`, [0])).rejects.toThrow('division by zero');
    await shapedQuery(client, 'probe_error', `SELECT 1 / $1::int AS x`, [1]);
    await expect(shapedQuery(client, 'probe_error', `SELECT 1 / $1::int AS x`, [0])).rejects.toThrow('division by zero');
    expect(await shapedQuery(client, 'probe_error', `SELECT 1 / $1::int AS x`, [1])).toEqual([{ x: 1 }]);
  });

  it('fails one run and describes again when a result gained columns under a kept description', async () => {
    await client.query(`CREATE TEMP TABLE shaped_probe (a int)`);
    await client.query(`INSERT INTO shaped_probe VALUES (1)`);
    const text = `SELECT * FROM shaped_probe WHERE a = $1`;
    expect(await shapedQuery(client, 'probe_star', text, [1])).toEqual([{ a: 1 }]);
    await client.query(`ALTER TABLE shaped_probe ADD COLUMN b text DEFAULT 'x'`);
    await expect(shapedQuery(client, 'probe_star', text, [1])).rejects.toThrow('returned 2 columns where this connection had seen 1');
    expect(await shapedQuery(client, 'probe_star', text, [1])).toEqual([{ a: 1, b: 'x' }]);
    // The connection is still in step with the server afterwards.
    expect((await client.query(`SELECT 2 AS two`)).rows).toEqual([{ two: 2 }]);
  });

  it('answers through HTTP as before on every connection of the pool', async () => {
    const root: Actor = await loginRoot(t);
    const customer = await createCustomer(t, root);
    const bodies = await Promise.all(Array.from({ length: 40 }, () => root.get(`/v1/customers/${customer.id}`).expect(200)));
    for (const res of bodies) expect(res.body).toEqual(bodies[0].body);
    expect(bodies[0].body).toMatchObject({ id: customer.id, balance: '0.00' });
  });
});
