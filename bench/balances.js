'use strict';
/**
 * Balance postings (issue 5): postings per second and p50/p99 spread over 1,000 customers
 * and on one hot customer, at 16 and 64 concurrent clients; beside them pgbench's
 * `tpcb-like` and `-N` (simple-update) on the same PostgreSQL, and the ratios.
 */
const { execFileSync, spawnSync } = require('node:child_process');
const { randomUUID } = require('node:crypto');
const { Client } = require('pg');
const { run, summarize, printTable } = require('./lib');

function ensurePgbench() {
  if (spawnSync('pgbench', ['--version']).status === 0) return true;
  process.stdout.write('pgbench missing: installing Debian postgresql-client\n');
  const apt = (args) => spawnSync('apt-get', args, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  apt(['update', '-q']);
  apt(['install', '-y', '-q', 'postgresql-client']);
  return spawnSync('pgbench', ['--version']).status === 0;
}

async function seed(canopy, databaseUrl) {
  const login = await fetch(`${canopy.url}/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ login: 'root', password: 'bench-root-password' }),
  }).then((r) => r.json());
  const token = login.accessToken;
  if (!token) throw new Error(`bench login failed: ${JSON.stringify(login)}`);
  const tariff = await fetch(`${canopy.url}/v1/tariffs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ name: `bench-${Date.now()}`, currency: 'USD' }),
  }).then((r) => r.json());
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  const { rows } = await client.query(
    `WITH r AS (SELECT id, path FROM customers WHERE parent_id IS NULL),
          s AS (SELECT nextval(pg_get_serial_sequence('customers', 'node_id')) AS n FROM generate_series(1, 1000))
     INSERT INTO customers (node_id, parent_id, path, depth, name, tariff_id, time_zone, language, web_login,
                            web_password_hash, base_currency, balance, credit_limit, permissions)
     OVERRIDING SYSTEM VALUE
     SELECT s.n, r.id, r.path || s.n || '/', 1, 'bench-posting-' || s.n, $1, 'UTC', 'en', 'bench-posting-' || s.n,
            'not-a-login', 'USD', 0, 1000000000, '{}'
       FROM r, s
     RETURNING id`,
    [tariff.id],
  );
  await client.query('ANALYZE');
  await client.end();
  return { token, customerIds: rows.map((r) => r.id) };
}

function postings(canopy, token, pickCustomer, connections, duration) {
  return run({
    url: canopy.url,
    connections,
    duration,
    requests: [
      {
        method: 'POST',
        setupRequest: (req) => ({
          ...req,
          path: `/v1/customers/${pickCustomer()}/balance-operations`,
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'idempotency-key': randomUUID() },
          body: JSON.stringify({ action: Math.random() < 0.5 ? 'add_funds' : 'debit', amount: '1.25' }),
        }),
      },
    ],
  });
}

function pgbench(databaseUrl, args) {
  const url = new URL(databaseUrl);
  const env = { ...process.env, PGHOST: url.hostname, PGPORT: url.port || '5432', PGUSER: decodeURIComponent(url.username), PGPASSWORD: decodeURIComponent(url.password), PGDATABASE: url.pathname.slice(1) };
  const out = execFileSync('pgbench', args, { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const tps = /tps = ([\d.]+)/.exec(out);
  return tps ? Number(tps[1]) : NaN;
}

async function balancesBench({ canopy, db, duration = 10 }) {
  const { token, customerIds } = await seed(canopy, db.url);
  const hot = customerIds[0];
  const spread = () => customerIds[Math.floor(Math.random() * customerIds.length)];
  const rows = [];
  for (const connections of [16, 64]) {
    rows.push(summarize(`postings over 1,000 customers, ${connections} clients`, await postings(canopy, token, spread, connections, duration)));
    rows.push(summarize(`postings on one hot customer, ${connections} clients`, await postings(canopy, token, () => hot, connections, duration)));
  }
  printTable(`Balance operations (${duration}s each)`, rows);

  if (!ensurePgbench()) {
    process.stdout.write('\npgbench unavailable: baseline skipped\n');
    return { rows };
  }
  const admin = new Client({ connectionString: db.url });
  await admin.connect();
  await admin.query('DROP DATABASE IF EXISTS canopy_pgbench');
  await admin.query('CREATE DATABASE canopy_pgbench');
  await admin.end();
  const benchUrl = new URL(db.url);
  benchUrl.pathname = '/canopy_pgbench';
  pgbench(benchUrl.toString(), ['-i', '-q', '-s', '10']);
  const baseline = {};
  for (const clients of [16, 64]) {
    baseline[`tpcb-like ${clients}`] = pgbench(benchUrl.toString(), ['-c', String(clients), '-j', '2', '-T', String(duration), '-b', 'tpcb-like']);
    baseline[`-N ${clients}`] = pgbench(benchUrl.toString(), ['-c', String(clients), '-j', '2', '-T', String(duration), '-N']);
  }
  process.stdout.write('\n| pgbench (same PostgreSQL) | tps |\n|---|---:|\n');
  for (const [name, tps] of Object.entries(baseline)) process.stdout.write(`| ${name} clients | ${Math.round(tps)} |\n`);
  const ratio16 = rows[0].requestsPerSecond / baseline['-N 16'];
  const ratio64 = rows[2].requestsPerSecond / baseline['-N 64'];
  process.stdout.write(
    `\npostings spread / pgbench -N: ${ratio16.toFixed(2)} at 16 clients, ${ratio64.toFixed(2)} at 64 (aim ≥ 0.5); ` +
      `hot customer: ${rows[1].requestsPerSecond} and ${rows[3].requestsPerSecond} postings/s (aim > 1,000)\n`,
  );
  return { rows, baseline, ratio16, ratio64 };
}

module.exports = { balancesBench };
