/**
 * What an index on `balance` would cost every posting (docs/integrators.md, "Why there is no
 * balance index"), measured, not guessed. Seeds the same 100,000 customers as list-plans.ts
 * (run it first with PLANS_DATABASE_URL pointing at a database this script may alter), then runs
 * the posting's balance update (`UPDATE customers SET balance, version, updated_at`, spread over
 * 1,000 customers) through pgbench for `SECONDS` each, interleaved: without the index, with
 * `customers (parent_id, balance, id)`, without, with. Prints tps and the share of HOT updates.
 * Not a test (nothing asserted); run by hand:
 *
 *   PLANS_DATABASE_URL=postgres://… npx ts-node-transpile-only test/plans/balance-index-cost.ts
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from 'pg';

const SECONDS = Number(process.env.SECONDS_EACH ?? 10);

async function main(): Promise<void> {
  const url = process.env.PLANS_DATABASE_URL;
  if (!url) throw new Error('PLANS_DATABASE_URL is required (a database seeded by list-plans.ts)');
  const db = new Client({ connectionString: url });
  await db.connect();
  const range = (await db.query(`SELECT min(node_id) AS lo FROM customers WHERE depth = 2`)).rows[0] as { lo: string };
  const dir = mkdtempSync(path.join(tmpdir(), 'canopy-balance-index-'));
  const script = path.join(dir, 'update.sql');
  writeFileSync(
    script,
    `\\set n random(${range.lo}, ${Number(range.lo) + 999})\n` +
      `UPDATE customers SET balance = balance - 0.01, version = version + 1, updated_at = now() WHERE node_id = :n;\n`,
  );
  const u = new URL(url);
  const env = { ...process.env, PGHOST: u.hostname, PGPORT: u.port, PGUSER: decodeURIComponent(u.username), PGPASSWORD: decodeURIComponent(u.password), PGDATABASE: u.pathname.slice(1) };
  const indexes = (await db.query(`SELECT count(*)::int AS n FROM pg_indexes WHERE tablename = 'customers'`)).rows[0] as { n: number };
  console.log(`customers has ${indexes.n} indexes; pgbench, 16 clients, ${SECONDS} s each, the posting's balance update over 1,000 customers`);
  const run = async (withIndex: boolean): Promise<void> => {
    await db.query(withIndex ? `CREATE INDEX IF NOT EXISTS customers_children_balance ON customers (parent_id, balance, id)` : `DROP INDEX IF EXISTS customers_children_balance`);
    await db.query(`VACUUM ANALYZE customers`);
    const before = (await db.query(`SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'customers'`)).rows[0] as Record<string, string>;
    const out = execFileSync('pgbench', ['-n', '-c', '16', '-j', '2', '-T', String(SECONDS), '-M', 'prepared', '-f', script], { env, encoding: 'utf8' });
    await new Promise((resolve) => setTimeout(resolve, 700)); // statistics are sent at most every 500 ms
    const after = (await db.query(`SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'customers'`)).rows[0] as Record<string, string>;
    const updates = Number(after.n_tup_upd) - Number(before.n_tup_upd);
    const hot = Number(after.n_tup_hot_upd) - Number(before.n_tup_hot_upd);
    const tps = /tps = ([\d.]+)/.exec(out)?.[1];
    console.log(`${withIndex ? 'with   ' : 'without'} the balance index: ${tps} tps, HOT updates ${updates ? Math.round((100 * hot) / updates) : 0} %`);
  };
  try {
    for (const withIndex of [false, true, false, true]) await run(withIndex);
  } finally {
    await db.query(`DROP INDEX IF EXISTS customers_children_balance`);
    await db.end();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
