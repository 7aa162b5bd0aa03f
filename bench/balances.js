'use strict';
/**
 * Balance postings (figure 3 of issue 12): postings per second and p50/p99 spread over 1,000
 * customers and on one hot customer, at 16 and 64 concurrent clients; beside them the
 * raw-SQL limit of the same posting on the same PostgreSQL (bench/posting-limit.js), and the
 * ratios. `seedPostingCustomers` also serves the batch and soak benchmarks.
 */
const { randomUUID } = require('node:crypto');
const { Client } = require('pg');
const { run, summarize, printTable, login, ROOT_PASSWORD } = require('./lib');
const { postingLimit } = require('./posting-limit');

/** 1,000 children of the root with a large credit limit (straight into SQL), and a root token. */
async function seedPostingCustomers(canopy, databaseUrl) {
  const token = await login(canopy, 'root', ROOT_PASSWORD);
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
                            web_password_hash, base_currency, opening_balance, credit_limit, permissions)
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

/** ANALYZE of the whole database, as autovacuum would do of tables that grew from empty. */
async function analyze(databaseUrl) {
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query('ANALYZE');
  } finally {
    await client.end();
  }
}

/** One posting request for autocannon (a fresh Idempotency-Key each). */
function postingRequest(token, pickCustomer) {
  return {
    method: 'POST',
    setupRequest: (req) => ({
      ...req,
      path: `/v1/customers/${pickCustomer()}/balance-operations`,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'idempotency-key': randomUUID() },
      body: JSON.stringify({ action: Math.random() < 0.5 ? 'add_funds' : 'debit', amount: '1.25' }),
    }),
  };
}

function postings(canopy, token, pickCustomer, connections, duration) {
  return run({ url: canopy.url, connections, duration, requests: [postingRequest(token, pickCustomer)] });
}

/** Postings/s counts answered 2xx only (a refusal or a 503 is not a posting). */
function postingsPerSecond(result, duration) {
  return Math.round(result['2xx'] / duration);
}

async function balancesBench({ canopy, db, posting, duration = 10 }) {
  const { token, customerIds } = posting;
  const hot = customerIds[0];
  const spread = () => customerIds[Math.floor(Math.random() * customerIds.length)];
  const rows = [];
  const figures = { spread: {}, hot: {} };
  // A warm-up, not counted: the posting path's first seconds in a fresh process (its code not yet
  // optimized by V8, its prepared statements not yet on every pooled connection, the 1,000
  // customers just seeded) measured 0.33 of the stick where the same code, warm, gave 0.37-0.53
  // in the events step of the same run. pgbench, the stick, has nothing to warm.
  const warmUp = Math.min(3, duration);
  await postings(canopy, token, spread, 16, warmUp);
  await postings(canopy, token, () => hot, 16, warmUp);
  // Then the statistics: the settled database analyzed the ledger, idempotency and outbox tables
  // while they were empty, and the plans made from them stay cached on every pooled connection
  // (the idempotency key's foreign-key check on the ledger became a sequential scan) until
  // autovacuum's next analyze, within a minute in service. Measured in one run: 812 spread and
  // 435 hot postings/s before, 1,261 and 1,387 after an ANALYZE here (bench/RESULTS.md).
  await analyze(db.url);
  for (const connections of [16, 64]) {
    for (const [kind, pick, label] of [
      ['spread', spread, 'over 1,000 customers'],
      ['hot', () => hot, 'on one hot customer'],
    ]) {
      const result = await postings(canopy, token, pick, connections, duration);
      const row = summarize(`postings ${label}, ${connections} clients`, result);
      row.requestsPerSecond = postingsPerSecond(result, duration);
      rows.push(row);
      figures[kind][connections] = row.requestsPerSecond;
    }
  }
  printTable(`Balance operations (postings/s counts 2xx; ${duration}s each, after ${warmUp} s of each kind not counted)`, rows);

  const limit = await postingLimit({ databaseUrl: db.url, duration });
  if (!limit) return { figures };
  process.stdout.write(
    `\nThe raw-SQL limit (bench/posting-limit.js: the posting's four writes in one transaction through pgbench, ` +
      `${limit.seconds} s each, in ${limit.where} of the same PostgreSQL):\n\n` +
      '| clients | Canopy spread /s | raw SQL spread tps | ratio | Canopy hot /s | raw SQL hot tps | ratio |\n|---:|---:|---:|---:|---:|---:|---:|\n',
  );
  for (const c of [16, 64]) {
    const rs = figures.spread[c] / limit.spread[c];
    const rh = figures.hot[c] / limit.hot[c];
    process.stdout.write(
      `| ${c} | ${figures.spread[c]} | ${Math.round(limit.spread[c])} | ${rs.toFixed(2)} | ${figures.hot[c]} | ${Math.round(limit.hot[c])} | ${rh.toFixed(2)} |\n`,
    );
  }
  return { figures, limit };
}

module.exports = { balancesBench, seedPostingCustomers, postingRequest, analyze };
