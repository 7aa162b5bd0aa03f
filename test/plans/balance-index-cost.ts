/**
 * What an index on the balance costs every posting, by where the balance lives
 * (docs/integrators.md, "Where balances live, and why"), measured, not guessed. Uses the
 * 100,000 customers list-plans.ts seeds (run it first with PLANS_DATABASE_URL pointing at a
 * database this script may alter), then runs through pgbench, for `SECONDS_EACH` each,
 * interleaved, three layouts of the balance:
 *
 * - `in customers, no index` (before migration 1764600000000-BalanceRows): a column of the wide
 *   `customers` row that no index holds (a scratch column here, `scratch_balance`), so its
 *   update can be HOT;
 * - `in customers, indexed`: the same with `customers (parent_id, scratch_balance, id)`;
 * - `narrow row, indexed` (now): `customer_balances` with its balance index, the customer row
 *   read beside it, only the balance row locked.
 *
 * and two workloads: the single posting's balance update (16 clients, spread over 1,000
 * customers), and a batch's (4 clients, each transaction locking then updating 600 customers in
 * id order, as THE posting does). Prints tps and the share of HOT updates. The scratch column
 * and index are dropped at the end. Not a test (nothing asserted); run by hand:
 *
 *   PLANS_DATABASE_URL=postgres://… npx ts-node-transpile-only test/plans/balance-index-cost.ts
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from 'pg';

const SECONDS = Number(process.env.SECONDS_EACH ?? 10);

type Layout = 'in customers, no index' | 'in customers, indexed' | 'narrow row, indexed';

async function main(): Promise<void> {
  const url = process.env.PLANS_DATABASE_URL;
  if (!url) throw new Error('PLANS_DATABASE_URL is required (a database seeded by list-plans.ts)');
  const db = new Client({ connectionString: url });
  await db.connect();
  const range = (await db.query(`SELECT min(node_id) AS lo, max(node_id) AS hi FROM customers WHERE depth = 2`)).rows[0] as { lo: string; hi: string };
  const lo = Number(range.lo);
  const dir = mkdtempSync(path.join(tmpdir(), 'canopy-balance-index-'));
  const script = (name: string, text: string) => {
    const file = path.join(dir, name);
    writeFileSync(file, text);
    return file;
  };
  const single = `\\set n random(${lo}, ${lo + 999})\n`;
  // Disjoint sets of 600 customers (every second one of 1,200 consecutive), so that batches do not wait on each other.
  const batch = `\\set k random(0, ${Math.floor((Number(range.hi) - lo - 1200) / 1200)})\n\\set s ${lo} + :k * 1200\nBEGIN;\n`;
  const set = `(SELECT g FROM generate_series(:s, :s + 1199, 2) g)`;
  const scripts: Record<'single' | 'batch', Record<'wide' | 'narrow', string>> = {
    single: {
      wide: script('single-wide.sql', `${single}UPDATE customers SET scratch_balance = scratch_balance - 0.01, version = version + 1, updated_at = now() WHERE node_id = :n;\n`),
      narrow: script(
        'single-narrow.sql',
        `${single}UPDATE customer_balances b SET balance = b.balance - 0.01, version = b.version + 1, updated_at = now() FROM customers c WHERE c.node_id = :n AND b.customer_id = c.id;\n`,
      ),
    },
    batch: {
      wide: script(
        'batch-wide.sql',
        `${batch}SELECT count(*) FROM (SELECT id FROM customers WHERE node_id IN ${set} ORDER BY id FOR UPDATE) x;\n` +
          `UPDATE customers SET scratch_balance = scratch_balance - 0.01, version = version + 1, updated_at = now() WHERE node_id IN ${set};\nCOMMIT;\n`,
      ),
      narrow: script(
        'batch-narrow.sql',
        `${batch}SELECT count(*) FROM (SELECT h.id FROM customers h JOIN customer_balances b ON b.customer_id = h.id WHERE h.node_id IN ${set} ORDER BY h.id FOR UPDATE OF b) x;\n` +
          `UPDATE customer_balances b SET balance = b.balance - 0.01, version = b.version + 1, updated_at = now() FROM customers c WHERE c.node_id IN ${set} AND b.customer_id = c.id;\nCOMMIT;\n`,
      ),
    },
  };
  const u = new URL(url);
  const env = { ...process.env, PGHOST: u.hostname, PGPORT: u.port, PGUSER: decodeURIComponent(u.username), PGPASSWORD: decodeURIComponent(u.password), PGDATABASE: u.pathname.slice(1) };
  const indexes = (await db.query(`SELECT count(*)::int AS n FROM pg_indexes WHERE tablename = 'customers'`)).rows[0] as { n: number };
  await db.query(`ALTER TABLE customers ADD COLUMN IF NOT EXISTS scratch_balance numeric(38, 8) NOT NULL DEFAULT 0`);
  console.log(`customers has ${indexes.n} indexes; pgbench, ${SECONDS} s each, interleaved`);
  const stats = async () =>
    (await db.query(`SELECT sum(n_tup_upd)::bigint AS upd, sum(n_tup_hot_upd)::bigint AS hot FROM pg_stat_user_tables WHERE relname IN ('customers', 'customer_balances')`))
      .rows[0] as { upd: string; hot: string };
  const run = async (workload: 'single' | 'batch', layout: Layout): Promise<void> => {
    await db.query(
      layout === 'in customers, indexed'
        ? `CREATE INDEX IF NOT EXISTS customers_children_scratch_balance ON customers (parent_id, scratch_balance, id)`
        : `DROP INDEX IF EXISTS customers_children_scratch_balance`,
    );
    await db.query(`VACUUM ANALYZE customers`);
    await db.query(`VACUUM ANALYZE customer_balances`);
    await db.query(`CHECKPOINT`);
    const before = await stats();
    const clients = workload === 'single' ? '16' : '4';
    const file = scripts[workload][layout === 'narrow row, indexed' ? 'narrow' : 'wide'];
    const out = execFileSync('pgbench', ['-n', '-c', clients, '-j', '2', '-T', String(SECONDS), '-M', 'prepared', '-f', file], { env, encoding: 'utf8' });
    await new Promise((resolve) => setTimeout(resolve, 700)); // statistics are sent at most every 500 ms
    const after = await stats();
    const updates = Number(after.upd) - Number(before.upd);
    const hot = Number(after.hot) - Number(before.hot);
    const tps = Number(/tps = ([\d.]+)/.exec(out)?.[1]);
    const perSecond = workload === 'single' ? `${Math.round(tps)} updates/s` : `${tps.toFixed(1)} batches/s (${Math.round(tps * 600)} updates/s)`;
    console.log(`${workload.padEnd(6)} ${layout.padEnd(22)}: ${perSecond}, HOT ${updates ? Math.round((100 * hot) / updates) : 0} %`);
  };
  try {
    for (const workload of ['single', 'batch'] as const) {
      for (let round = 0; round < 2; round++) {
        for (const layout of ['in customers, no index', 'in customers, indexed', 'narrow row, indexed'] as const) await run(workload, layout);
      }
    }
  } finally {
    await db.query(`DROP INDEX IF EXISTS customers_children_scratch_balance`);
    await db.query(`ALTER TABLE customers DROP COLUMN IF EXISTS scratch_balance`);
    await db.end();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
