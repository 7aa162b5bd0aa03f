'use strict';
/**
 * Shared pieces of the benchmarks: start Canopy (built, in a child process) on an embedded
 * or given PostgreSQL, run autocannon, and print figures. Nothing here asserts anything.
 */
const { spawn } = require('node:child_process');
const { mkdtempSync, chmodSync, readFileSync, readdirSync } = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const net = require('node:net');
const autocannon = require('autocannon');

const ROOT = path.resolve(__dirname, '..');

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function waitFor(url, timeoutMs = 60000) {
  const started = Date.now();
  for (;;) {
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch {
      /* not up yet */
    }
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${url}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** One embedded PostgreSQL for a whole bench run (or DATABASE_URL's server). */
async function startDatabase() {
  if (process.env.DATABASE_URL) return { url: process.env.DATABASE_URL, stop: async () => {} };
  const { startEmbeddedPostgres } = require(path.join(ROOT, 'dist/src/database/embedded-postgres.js'));
  const dir = mkdtempSync(path.join(os.tmpdir(), 'canopy-bench-pg-'));
  chmodSync(dir, 0o755);
  const port = await freePort();
  const pg = await startEmbeddedPostgres({ dataDir: path.join(dir, 'data'), port, persistent: false });
  const { Client } = require('pg');
  const admin = new Client({ connectionString: pg.adminUrl });
  await admin.connect();
  await admin.query('CREATE DATABASE canopy_bench');
  await admin.end();
  return { url: pg.url('canopy_bench'), adminUrl: pg.adminUrl, port, stop: () => pg.stop() };
}

/**
 * Starts the built service (`dist`/src/main.js, by default this checkout's dist/) against
 * `databaseUrl`, with the settings `env` added; `nodeArgs` go to node before the script (e.g. `--cpu-prof`).
 */
async function startCanopy(databaseUrl, env = {}, nodeArgs = [], dist = path.join(ROOT, 'dist'), { stdout = 'inherit' } = {}) {
  const port = await freePort();
  // As `npm start` and the Dockerfile run it (README, Production: the young generation's size).
  const child = spawn(process.execPath, ['--max-semi-space-size=32', ...nodeArgs, path.join(dist, 'src/main.js')], {
    env: {
      // As in the Dockerfile and `npm start`: argon2's 19 MiB blocks go back to the system (README, memory).
      MALLOC_MMAP_THRESHOLD_: '1048576',
      ...process.env,
      DATABASE_URL: databaseUrl,
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      ROOT_LOGIN: 'root',
      ROOT_PASSWORD: 'bench-root-password', // ROOT_PASSWORD below
      JWT_SECRET: 'bench-secret-bench-secret-bench-secret-01',
      // Benchmarks measure throughput, not the limiters (whose own tests are in test/).
      LOGIN_MAX_FAILURES: '1000',
      RATE_LIMIT_EXPENSIVE_PER_MINUTE: '1000000',
      ...env,
    },
    stdio: ['ignore', stdout, 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(`${url}/health/ready`);
  return {
    url,
    pid: child.pid,
    /** Canopy's standard output (with `stdout: 'pipe'`; else null). */
    stdout: child.stdout,
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', resolve);
        child.kill('SIGTERM');
      }),
  };
}

function run(options) {
  return new Promise((resolve, reject) => {
    autocannon({ connections: 10, duration: 10, ...options }, (err, result) => (err ? reject(err) : resolve(result)));
  });
}

function summarize(name, result) {
  return {
    name,
    requestsPerSecond: Math.round(result.requests.average),
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
  };
}

function printTable(title, rows) {
  process.stdout.write(`\n## ${title}\n\n`);
  process.stdout.write('| scenario | req/s | p50 ms | p99 ms | non-2xx | errors |\n|---|---:|---:|---:|---:|---:|\n');
  for (const r of rows) {
    process.stdout.write(`| ${r.name} | ${r.requestsPerSecond} | ${r.p50} | ${r.p99} | ${r.non2xx} | ${r.errors} |\n`);
  }
}

/** Resident set size of a process in MiB (Linux /proc), or NaN where unknown. */
function rssMiB(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)[1]) / 1024);
  } catch {
    return NaN;
  }
}

/** USER_HZ on Linux: clock ticks per second in /proc/<pid>/stat. */
const TICK = 100;

/** The fields of /proc/<pid>/stat after the command name ([1] the parent's pid, [11]–[14] utime, stime, cutime, cstime), or undefined when gone. */
function procStat(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** utime + stime in ms of the process whose stat `fields` these are; with `reaped`, also cutime + cstime (its exited children). */
function fieldsCpuMs(fields, reaped) {
  const ticks = Number(fields[11]) + Number(fields[12]) + (reaped ? Number(fields[13]) + Number(fields[14]) : 0);
  return (ticks * 1000) / TICK;
}

/** CPU ms of a process (Linux /proc): utime + stime, with `reaped` also its exited children's; 0 when gone. */
function cpuMs(pid, { reaped = false } = {}) {
  const fields = procStat(pid);
  return fields ? fieldsCpuMs(fields, reaped) : 0;
}

/**
 * CPU ms of the PostgreSQL server whose postmaster is `postmaster`: itself and its live
 * children (backends, walwriter, …), and with `reaped` (the default) its exited children too
 * (the postmaster's cutime + cstime: backends of closed connections). NaN when the postmaster is gone.
 */
function clusterCpuMs(postmaster, { reaped = true } = {}) {
  const own = procStat(postmaster);
  if (!own) return NaN;
  let total = fieldsCpuMs(own, reaped);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const fields = procStat(entry);
    if (fields && Number(fields[1]) === postmaster) total += fieldsCpuMs(fields, false);
  }
  return total;
}

/** The pid of the postmaster serving `databaseUrl` (from its data directory's postmaster.pid; the role must be allowed to read data_directory). */
async function postmasterPid(databaseUrl) {
  const { Client } = require('pg');
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query('SHOW data_directory');
    return Number(readFileSync(path.join(rows[0].data_directory, 'postmaster.pid'), 'utf8').split('\n')[0]);
  } finally {
    await client.end();
  }
}

/** A caller's access token (POST /v1/auth/login). */
async function login(canopy, webLogin, password) {
  const res = await fetch(`${canopy.url}/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ login: webLogin, password }),
  });
  if (res.status !== 200) throw new Error(`login ${webLogin}: ${res.status} ${await res.text()}`);
  return (await res.json()).accessToken;
}

/** The root's password in every benchmark run (startCanopy sets it). */
const ROOT_PASSWORD = 'bench-root-password';

/**
 * Lets the database settle before a measured scenario, so that it does not pay for the one
 * before it: waits (at most `timeoutMs`) until the event outbox is empty (the relay has moved
 * what the last scenario wrote) and no autovacuum worker is running (the last scenario's dead
 * rows), then vacuums and analyzes (as pgbench does before its runs) and asks for a checkpoint (the
 * last scenario's dirty pages; each skipped where this role may not). Returns the milliseconds it waited.
 */
async function settle(databaseUrl, timeoutMs = 60000) {
  const { Client } = require('pg');
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  const started = Date.now();
  try {
    for (;;) {
      const { rows } = await client.query(
        `SELECT (SELECT count(*) FROM event_backlog)::int AS outbox,
                (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker')::int AS vacuums`,
      );
      if ((rows[0].outbox === 0 && rows[0].vacuums === 0) || Date.now() - started > timeoutMs) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    // pgbench vacuums its tables before a run for the same reason: autovacuum wakes at most once
    // a minute, so a step right after a writing one would otherwise pay for its dead rows.
    await client.query('VACUUM (ANALYZE)').catch(() => undefined);
    await client.query('CHECKPOINT').catch(() => undefined);
  } finally {
    await client.end();
  }
  return Date.now() - started;
}

/**
 * Turns the outbox triggers of the database at `databaseUrl` on or off (`ALTER TABLE … ENABLE|
 * DISABLE TRIGGER`): those there are, `audit_events` and `call_charges` (the ledger had one
 * until migration 1764900000000; the relay now reads its entries from the ledger itself, and
 * what that costs a posting, its `txid` and `low_balance_threshold` columns and the
 * `ledger_entries_relay` index, cannot be switched off).
 */
async function setOutboxTriggers(databaseUrl, enabled) {
  const { Client } = require('pg');
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query(`SELECT tgrelid::regclass::text AS "table", tgname AS "trigger" FROM pg_trigger WHERE tgname LIKE '%\\_outbox'`);
    for (const { table, trigger } of rows) await client.query(`ALTER TABLE ${table} ${enabled ? 'ENABLE' : 'DISABLE'} TRIGGER ${trigger}`);
  } finally {
    await client.end();
  }
}

module.exports = {
  settle,
  setOutboxTriggers,
  ROOT,
  ROOT_PASSWORD,
  freePort,
  waitFor,
  startDatabase,
  startCanopy,
  run,
  summarize,
  printTable,
  rssMiB,
  cpuMs,
  clusterCpuMs,
  postmasterPid,
  login,
};
