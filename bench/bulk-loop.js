'use strict';
/**
 * A tight loop for the bulk writes (issue 12 figure 4, issue 13): not part of `npm run bench`.
 * Starts its own embedded PostgreSQL with pg_stat_statements, one Canopy, seeds the batch
 * customers and the calls chain, then runs rounds of 1,000-operation batches and 1,000-call
 * batches, and prints per round: throughput, Canopy CPU ms per batch (from /proc), PostgreSQL
 * CPU ms per batch (every process of the cluster, from /proc), and the statements that took
 * the most execution time (pg_stat_statements, track = all: triggers' and FK checks' SPI too).
 *
 * BULK_ROUNDS (default 2), BULK_SECONDS per scenario (default 8), BULK_CLIENTS (default 4),
 * BULK_ONLY=batches|calls, BULK_CPU_PROF=<dir> (Canopy runs with --cpu-prof), BULK_TOP (statements shown, default 8).
 * BULK_VARIANTS=name=distDir,name=distDir…: builds to compare, interleaved on the same database
 * (each round runs every variant in turn, its Canopy started for it and stopped after it).
 * BULK_IDLE_SECONDS=<s>: after each round, PostgreSQL's and Canopy's CPU per second with no load.
 * BULK_SHOW=<text>: also prints, per round, the statements whose text contains it (e.g.
 * `webhook_dispatch_position`), however far down the list.
 */
const { mkdtempSync, chmodSync, readFileSync } = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { randomUUID } = require('node:crypto');
const { Client } = require('pg');
const { ROOT, freePort, startCanopy, cpuMs, clusterCpuMs } = require('./lib');
const { seedPostingCustomers } = require('./balances');
const { seedChain, callsBody } = require('./calls');

async function startDatabase() {
  const { startEmbeddedPostgres } = require(path.join(ROOT, 'dist/src/database/embedded-postgres.js'));
  const dir = mkdtempSync(path.join(os.tmpdir(), 'canopy-bulk-pg-'));
  chmodSync(dir, 0o755);
  const port = await freePort();
  const dataDir = path.join(dir, 'data');
  const logFile = process.env.BULK_PG_LOG;
  const log = logFile ? (m) => require('node:fs').appendFileSync(logFile, m) : undefined;
  let pg = await startEmbeddedPostgres({ dataDir, port, persistent: true, log });
  let admin = new Client({ connectionString: pg.adminUrl });
  await admin.connect();
  await admin.query(`ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'`);
  await admin.query(`ALTER SYSTEM SET pg_stat_statements.track = 'all'`);
  await admin.end();
  await pg.stop();
  pg = await startEmbeddedPostgres({ dataDir, port, persistent: true, log });
  admin = new Client({ connectionString: pg.adminUrl });
  await admin.connect();
  await admin.query('CREATE DATABASE canopy_bench');
  if (process.env.BULK_EXPLAIN_MS) {
    // auto_explain of every statement slower than this, with triggers' times, into BULK_PG_LOG.
    await admin.query(`ALTER DATABASE canopy_bench SET session_preload_libraries = 'auto_explain'`);
    await admin.query(`ALTER DATABASE canopy_bench SET auto_explain.log_min_duration = ${Number(process.env.BULK_EXPLAIN_MS)}`);
    await admin.query(`ALTER DATABASE canopy_bench SET auto_explain.log_analyze = on`);
    await admin.query(`ALTER DATABASE canopy_bench SET auto_explain.log_triggers = on`);
    await admin.query(`ALTER DATABASE canopy_bench SET auto_explain.log_buffers = on`);
    if (process.env.BULK_EXPLAIN_NESTED) await admin.query(`ALTER DATABASE canopy_bench SET auto_explain.log_nested_statements = on`);
  }
  await admin.end();
  const client = new Client({ connectionString: pg.url('canopy_bench') });
  await client.connect();
  await client.query('CREATE EXTENSION pg_stat_statements');
  await client.end();
  const postmaster = Number(readFileSync(path.join(pg.dataDir ?? dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  return { url: pg.url('canopy_bench'), postmaster, stop: () => pg.stop() };
}

/** `clients` loops posting bodies for `seconds`; answers counted by status. */
async function load(url, pathName, headers, bodies, clients, seconds) {
  const until = Date.now() + seconds * 1000;
  let next = 0;
  const statuses = {};
  let done = 0;
  const latencies = [];
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (Date.now() < until) {
        const body = bodies[next++ % bodies.length];
        const t = Date.now();
        const res = await fetch(`${url}${pathName}`, { method: 'POST', headers: headers(), body: typeof body === 'function' ? body() : body });
        const text = await res.text();
        latencies.push(Date.now() - t);
        statuses[res.status] = (statuses[res.status] ?? 0) + 1;
        if (res.status >= 300) throw new Error(`${pathName}: ${res.status} ${text.slice(0, 300)}`);
        done++;
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  return { done, statuses, p50: latencies[Math.floor(latencies.length / 2)] ?? 0 };
}

async function topStatements(url, top, per) {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const show = process.env.BULK_SHOW;
    if (show && top > 0) {
      const { rows } = await client.query(
        `SELECT sum(calls)::int AS calls, round(sum(total_exec_time)::numeric, 1) AS ms, sum(rows)::int AS rows
           FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND strpos(query, $1) > 0`,
        [show],
      );
      const r = rows[0];
      process.stdout.write(`    [${show}] ${(Number(r.ms ?? 0) / per).toFixed(1)} ms/batch exec, ${r.calls ?? 0} calls, ${r.rows ?? 0} rows\n`);
    }
    const { rows } = await client.query(
      `SELECT calls, round(total_exec_time::numeric, 1) AS ms, round(total_plan_time::numeric, 1) AS plan_ms, rows, left(regexp_replace(query, '\\s+', ' ', 'g'), 110) AS q
         FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
        ORDER BY total_exec_time DESC LIMIT $1`,
      [top],
    );
    for (const r of rows) {
      process.stdout.write(`    ${(Number(r.ms) / per).toFixed(1).padStart(8)} ms/batch  ${String(r.calls).padStart(7)} calls  ${String(r.rows).padStart(8)} rows  ${r.q}\n`);
    }
    await client.query('SELECT pg_stat_statements_reset()');
  } finally {
    await client.end();
  }
}

/** Waits (at most 60 s) until the outbox is empty and the webhook dispatcher is at the feed's end; returns the ms waited. */
async function caughtUp(url) {
  const client = new Client({ connectionString: url });
  await client.connect();
  const started = Date.now();
  try {
    for (;;) {
      const { rows } = await client.query(
        `SELECT (SELECT count(*) FROM event_backlog)::int AS outbox,
                (SELECT sequence FROM webhook_dispatch_position) >= (SELECT COALESCE(max(sequence), 0) FROM events) AS at_end`,
      );
      if ((rows[0].outbox === 0 && rows[0].at_end) || Date.now() - started > 60000) return Date.now() - started;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } finally {
    await client.end();
  }
}

async function measure(name, db, canopy, fn, top) {
  const c0 = cpuMs(canopy.pid, { reaped: true });
  const p0 = clusterCpuMs(db.postmaster);
  const t0 = Date.now();
  const r = await fn();
  const wall = (Date.now() - t0) / 1000;
  // The CPU figures include the background work the load left (the relay's and the webhook dispatcher's backlog).
  const backlogMs = await caughtUp(db.url);
  const canopyMs = cpuMs(canopy.pid, { reaped: true }) - c0;
  const pgMs = clusterCpuMs(db.postmaster) - p0;
  const n = r.done;
  process.stdout.write(
    `${name}: ${n} batches in ${wall.toFixed(1)} s = ${Math.round((n * 1000) / wall)} items/s, p50 ${r.p50} ms; ` +
      `Canopy CPU ${(canopyMs / n).toFixed(0)} ms/batch, PostgreSQL CPU ${(pgMs / n).toFixed(0)} ms/batch (backlog moved ${backlogMs} ms after the load); load ${os.loadavg()[0].toFixed(2)}\n`,
  );
  await topStatements(db.url, top, n);
  const idle = Number(process.env.BULK_IDLE_SECONDS ?? 0);
  if (idle > 0) {
    // What the background loops (relay, webhook dispatcher, job queue) cost with nothing to do, on a feed this long.
    const i0 = clusterCpuMs(db.postmaster);
    const n0 = cpuMs(canopy.pid);
    await new Promise((resolve) => setTimeout(resolve, idle * 1000));
    process.stdout.write(
      `    idle ${idle} s: PostgreSQL CPU ${((clusterCpuMs(db.postmaster) - i0) / idle).toFixed(0)} ms/s, Canopy CPU ${((cpuMs(canopy.pid) - n0) / idle).toFixed(0)} ms/s\n`,
    );
    await topStatements(db.url, top, 1);
  }
}

async function main() {
  const rounds = Number(process.env.BULK_ROUNDS ?? 2);
  const seconds = Number(process.env.BULK_SECONDS ?? 8);
  const clients = Number(process.env.BULK_CLIENTS ?? 4);
  const top = Number(process.env.BULK_TOP ?? 8);
  const only = process.env.BULK_ONLY;
  const variants = process.env.BULK_VARIANTS
    ? process.env.BULK_VARIANTS.split(',').map((v) => {
        const [name, dist] = v.split('=');
        return { name: `${name} `, dist: path.resolve(dist) };
      })
    : [{ name: '', dist: path.join(ROOT, 'dist') }];
  const db = await startDatabase();
  const prof = process.env.BULK_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(process.env.BULK_CPU_PROF)}`] : [];
  let canopy;
  try {
    canopy = await startCanopy(db.url, {}, prof, variants[0].dist);
    if (process.env.BULK_SQL) {
      // A variant to compare (e.g. an index setting), applied after the migrations.
      const client = new Client({ connectionString: db.url });
      await client.connect();
      for (const statement of process.env.BULK_SQL.split(';').filter((s) => s.trim())) await client.query(statement);
      await client.end();
    }
    const posting = await seedPostingCustomers(canopy, db.url);
    const chain = await seedChain(canopy, db.url);
    const batchBodies = Array.from({ length: 32 }, () => {
      const operations = [];
      for (let i = 0; i < 1000; i++) {
        operations.push({
          customerId: posting.customerIds[Math.floor(Math.random() * posting.customerIds.length)],
          action: Math.random() < 0.5 ? 'add_funds' : 'debit',
          amount: '1.25',
        });
      }
      return JSON.stringify({ operations });
    });
    const batchHeaders = () => ({ 'content-type': 'application/json', authorization: `Bearer ${posting.token}`, 'idempotency-key': randomUUID() });
    const callHeaders = () => ({ 'content-type': 'application/json', authorization: `Bearer ${chain.rootToken}` });
    for (let round = 1; round <= rounds; round++) {
      for (const variant of variants) {
        if (variants.length > 1 && !(round === 1 && variant === variants[0])) {
          await canopy.stop();
          canopy = await startCanopy(db.url, {}, prof, variant.dist);
        }
        // warm-up
        if (only !== 'calls') await load(canopy.url, '/v1/balance-operations/batch', batchHeaders, batchBodies, 1, 1);
        if (only !== 'batches') await load(canopy.url, '/v1/calls', callHeaders, [() => callsBody(chain.accountIds)], 1, 1);
        await topStatements(db.url, 0, 1);
        if (only !== 'calls') {
          await measure(`round ${round} ${variant.name}batches (${clients} clients)`, db, canopy, () => load(canopy.url, '/v1/balance-operations/batch', batchHeaders, batchBodies, clients, seconds), top);
        }
        if (only !== 'batches') {
          const bodies = Array.from({ length: seconds * 12 }, () => callsBody(chain.accountIds));
          let i = 0;
          await measure(`round ${round} ${variant.name}calls (${clients} clients)`, db, canopy, () => load(canopy.url, '/v1/calls', callHeaders, [() => bodies[i++] ?? callsBody(chain.accountIds)], clients, seconds), top);
        }
      }
    }
  } finally {
    await canopy?.stop();
    await db.stop();
  }
}

main().catch((error) => {
  process.stderr.write(`${error.stack ?? error}\n`);
  process.exit(1);
});
