'use strict';
/**
 * Shared pieces of the benchmarks: start Canopy (built, in a child process) on an embedded
 * or given PostgreSQL, run autocannon, and print figures. Nothing here asserts anything.
 */
const { spawn } = require('node:child_process');
const { mkdtempSync, chmodSync } = require('node:fs');
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
 * Starts the built service (dist/src/main.js, or `dist`'s: another build to compare) against
 * `databaseUrl`; `nodeArgs` go to node before the script (e.g. `--cpu-prof`).
 */
async function startCanopy(databaseUrl, env = {}, nodeArgs = [], dist = path.join(ROOT, 'dist')) {
  const port = await freePort();
  const child = spawn(process.execPath, [...nodeArgs, path.join(dist, 'src/main.js')], {
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
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(`${url}/health/ready`);
  return {
    url,
    pid: child.pid,
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
    const status = require('node:fs').readFileSync(`/proc/${pid}/status`, 'utf8');
    return Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)[1]) / 1024);
  } catch {
    return NaN;
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
        `SELECT (SELECT count(*) FROM event_outbox)::int AS outbox,
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

module.exports = { settle, ROOT, ROOT_PASSWORD, freePort, waitFor, startDatabase, startCanopy, run, summarize, printTable, rssMiB, login };
