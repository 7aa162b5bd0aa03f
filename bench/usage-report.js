'use strict';
/**
 * `GET /v1/usage` at size (issue 13): 1,000,000 rated calls of a reseller R (a child of the
 * root, time zone Europe/Paris) with 10,000 accounts (500 under each of 20 sub-customers of
 * R), spread over the last 30 days, then the report of R for those 30 days grouped by
 * account, customer, day and prefix: p50/p99 over several sequential requests (the first
 * page, 50 groups, and for accounts also a later page through the cursor). Target: < 500 ms.
 *
 * The calls are WRITTEN WITH SQL, not posted: `calls`, `call_charges` (three charged levels
 * per call: the account, its sub-customer, R) and `usage_daily` (the rollup the posting
 * maintains, summed from those charges per seller, local day in the seller's time zone,
 * account and prefix), with consistent values (60/60 billing, a price per prefix and level,
 * each seller's revenue and cost). No ledger entries are written and no balance changes: the
 * report never reads them. The tariffs' rates are not seeded either (nothing here rates).
 */
const { randomBytes } = require('node:crypto');
const { performance } = require('node:perf_hooks');
const { Client } = require('pg');
const { login, ROOT_PASSWORD } = require('./lib');

const CALLS = 1_000_000;
const SUBCUSTOMERS = 20;
const ACCOUNTS = 10_000;
const DAYS = 30;
const RUNS = 20;
const PASSWORD = 'bench-usage-password';
const PREFIXES = ['1', '33', '44', '49', '7'];

async function api(canopy, token, method, url, body) {
  const res = await fetch(`${canopy.url}${url}`, {
    method,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${url}: ${res.status} ${text.slice(0, 300)}`);
  return JSON.parse(text);
}

/** The reseller and its 20 sub-customers through the API; tariffs of the sub-customers and the 10,000 accounts in SQL. */
async function seedTree(canopy, client) {
  const rootToken = await login(canopy, 'root', ROOT_PASSWORD);
  const suffix = Date.now().toString(36);
  const t0 = await api(canopy, rootToken, 'POST', '/v1/tariffs', { name: `usage-bench-${suffix}`, currency: 'USD' });
  const reseller = await api(canopy, rootToken, 'POST', '/v1/customers', {
    name: `usage reseller ${suffix}`,
    tariffId: t0.id,
    webLogin: `usage-reseller-${suffix}`,
    webPassword: PASSWORD,
    timeZone: 'Europe/Paris',
    baseCurrency: 'USD',
  });
  const token = await login(canopy, `usage-reseller-${suffix}`, PASSWORD);
  const t1 = await api(canopy, token, 'POST', '/v1/tariffs', { name: `usage-bench-${suffix}`, currency: 'USD' });
  const subs = [];
  for (let i = 0; i < SUBCUSTOMERS; i++) {
    subs.push(
      await api(canopy, token, 'POST', '/v1/customers', {
        name: `usage sub ${suffix} ${i}`,
        tariffId: t1.id,
        webLogin: `usage-sub-${suffix}-${i}`,
        webPassword: PASSWORD,
        timeZone: i % 2 ? 'America/New_York' : 'Asia/Tokyo',
        baseCurrency: 'USD',
      }),
    );
  }
  await client.query(`CREATE TEMP TABLE bench_subs (n int PRIMARY KEY, id uuid, tariff_id uuid)`);
  await client.query(`INSERT INTO tariffs (owner_id, name, currency) SELECT id, 'usage-bench accounts', 'USD' FROM unnest($1::uuid[]) AS s(id)`, [
    subs.map((s) => s.id),
  ]);
  await client.query(
    `INSERT INTO bench_subs (n, id, tariff_id)
     SELECT s.n, s.id, t.id FROM unnest($1::uuid[]) WITH ORDINALITY AS s(id, n) JOIN tariffs t ON t.owner_id = s.id`,
    [subs.map((s) => s.id)],
  );
  // Nobody logs in as these accounts: their password hash is a placeholder.
  await client.query(`CREATE TEMP TABLE bench_accounts (n int PRIMARY KEY, id uuid, sub int)`);
  await client.query(
    `WITH made AS (
       INSERT INTO accounts (customer_id, username, web_password_hash, voip_password, tariff_id, time_zone, language)
       SELECT s.id, 'usage-bench-${suffix}-' || a, 'not-a-login', 'voip-password', s.tariff_id, 'UTC', 'en'
         FROM generate_series(0, $1 - 1) AS a JOIN bench_subs s ON s.n = a % $2 + 1
       RETURNING id, username)
     INSERT INTO bench_accounts (n, id, sub)
     SELECT split_part(username, '-', 4)::int, id, split_part(username, '-', 4)::int % $2 + 1 FROM made`,
    [ACCOUNTS, SUBCUSTOMERS],
  );
  const { rows } = await client.query(`SELECT id FROM customers WHERE parent_id IS NULL`);
  return { token, reseller, rootId: rows[0].id, t0: t0.id, t1: t1.id };
}

/**
 * 1M calls, their three charges each, and the rollup of every seller, in SQL. Call ids are
 * made in connect-time order (newest first) so that every index of `calls` and
 * `call_charges` is filled at its end rather than at random places.
 */
async function seedCalls(client, seeded) {
  const run = randomBytes(4).toString('hex');
  const phases = [];
  let last = performance.now();
  const phase = (name) => {
    const now = performance.now();
    phases.push(`${name} ${((now - last) / 1000).toFixed(1)} s`);
    last = now;
  };
  // Per call: account, prefix, number, time (the last DAYS days, newest first), duration, billed seconds (60/60), and the
  // price per minute and amount at level L (0 the account, 1 its sub-customer, 2 the reseller): (0.02, 0.015, 0.01)[L] · (k+1).
  await client.query(
    `CREATE TEMP TABLE bench_calls AS
     SELECT x.*, 0.02 * (x.k + 1) AS p0, 0.015 * (x.k + 1) AS p1, 0.01 * (x.k + 1) AS p2,
            round(0.02 * (x.k + 1) * x.billed / 60, 8) AS a0, round(0.015 * (x.k + 1) * x.billed / 60, 8) AS a1,
            round(0.01 * (x.k + 1) * x.billed / 60, 8) AS a2
       FROM (
     SELECT ('${run}-0000-4000-8000-' || lpad(to_hex(i), 12, '0'))::uuid AS id, i, a.id AS account_id, s.id AS sub_id, s.tariff_id AS sub_tariff,
            c.path AS sub_path, p.prefix, p.k, p.prefix || lpad((i % 1000000)::text, 8, '0') AS number,
            now() - make_interval(secs => i * ($2 * 86400.0 / $1)) AS connect_time,
            (i * 37) % 600 AS duration,
            CASE WHEN (i * 37) % 600 = 0 THEN 0 ELSE ceil(((i * 37) % 600) / 60.0)::int * 60 END AS billed
       FROM generate_series(1, $1) AS i
       JOIN bench_accounts a ON a.n = i % ${ACCOUNTS}
       JOIN bench_subs s ON s.n = a.sub
       JOIN customers c ON c.id = s.id
       JOIN (SELECT k - 1 AS k, prefix FROM unnest($3::text[]) WITH ORDINALITY AS x(prefix, k)) p ON p.k = i % ${PREFIXES.length}
      ORDER BY i) x`,
    [CALLS, DAYS, PREFIXES],
  );
  phase('prepare');
  await client.query(
    `INSERT INTO calls (id, poster_id, call_id, account_id, customer_id, customer_path, number, connect_time, duration)
     SELECT b.id, $1, 'usage-bench-${run}-' || lpad(b.i::text, 7, '0'), b.account_id, b.sub_id, b.sub_path, b.number, b.connect_time, b.duration
       FROM bench_calls b`,
    [seeded.rootId],
  );
  phase('calls');
  await client.query(
    `INSERT INTO call_charges (call_uuid, level, party_kind, party_id, party_depth, seller_id, tariff_id, prefix, price, billed_seconds,
                               amount, currency, exchange_rate, converted_amount, charged_currency, ledger_entry_id,
                               revenue, seller_cost, seller_currency, account_id, customer_id, customer_path, number, connect_time, duration)
     SELECT b.id, l.level, CASE l.level WHEN 0 THEN 'account' ELSE 'customer' END,
            CASE l.level WHEN 0 THEN b.account_id WHEN 1 THEN b.sub_id ELSE $1::uuid END, 3 - l.level,
            CASE l.level WHEN 0 THEN b.sub_id WHEN 1 THEN $1::uuid ELSE $2::uuid END,
            CASE l.level WHEN 0 THEN b.sub_tariff WHEN 1 THEN $3::uuid ELSE $4::uuid END,
            b.prefix, CASE l.level WHEN 0 THEN b.p0 WHEN 1 THEN b.p1 ELSE b.p2 END, b.billed, l.amount, 'USD', 1, l.amount, 'USD', NULL,
            l.amount, l.cost, 'USD',
            b.account_id, b.sub_id, b.sub_path, b.number, b.connect_time, b.duration
       FROM bench_calls b
      CROSS JOIN LATERAL (VALUES (0, b.a0, b.a1), (1, b.a1, b.a2), (2, b.a2, 0)) AS l(level, amount, cost)`,
    [seeded.reseller.id, seeded.rootId, seeded.t1, seeded.t0],
  );
  phase('charges');
  // The rollup: each level's charge is its seller's row, summed per local day in the seller's zone, account and prefix
  // (the prefix fixes the price, so a group's amounts are its price times its billed seconds).
  const zones = await client.query(`SELECT id, time_zone FROM customers WHERE id = ANY($1::uuid[])`, [[seeded.reseller.id, seeded.rootId]]);
  const zoneOf = new Map(zones.rows.map((r) => [r.id, r.time_zone]));
  const subZones = (await client.query(`SELECT DISTINCT c.time_zone FROM bench_subs s JOIN customers c ON c.id = s.id`)).rows.map((r) => r.time_zone);
  const rollups = [
    ...subZones.map((tz) => ({ seller: 'a.sub_id', tz, price: '0.02', cost: '0.015', only: tz })),
    { seller: `'${seeded.reseller.id}'::uuid`, tz: zoneOf.get(seeded.reseller.id), price: '0.015', cost: '0.01', only: null },
    { seller: `'${seeded.rootId}'::uuid`, tz: zoneOf.get(seeded.rootId), price: '0.01', cost: '0', only: null },
  ];
  for (const r of rollups) {
    await client.query(
      `WITH g AS (
         SELECT b.account_id, b.prefix, b.k, (b.connect_time AT TIME ZONE $1)::date AS day, count(*) AS n, sum(b.duration) AS seconds, sum(b.billed) AS billed
           FROM bench_calls b ${r.only ? 'JOIN bench_subs s ON s.id = b.sub_id JOIN customers c ON c.id = s.id WHERE c.time_zone = $2' : ''}
          GROUP BY 1, 2, 3, 4)
       INSERT INTO usage_daily (seller_id, time_zone, day, account_id, customer_id, customer_path, prefix, calls, seconds, billed_seconds, revenue, cost)
       SELECT ${r.seller}, $1, g.day, g.account_id, a.sub_id, c.path, g.prefix, g.n, g.seconds, g.billed,
              ${r.price} * (g.k + 1) * g.billed / 60, ${r.cost} * (g.k + 1) * g.billed / 60
         FROM g JOIN bench_accounts ba ON ba.id = g.account_id JOIN LATERAL (SELECT s.id AS sub_id FROM bench_subs s WHERE s.n = ba.sub) a ON true
         JOIN customers c ON c.id = a.sub_id`,
      r.only ? [r.tz, r.only] : [r.tz],
    );
  }
  // The two smaller rollups the posting keeps beside it (migration 1764500600000), as the posting would have:
  // from this seeding's rows only, added to what calls posted earlier in the run (the calls scenario) left there.
  const ADD = `calls = t.calls + excluded.calls, seconds = t.seconds + excluded.seconds, billed_seconds = t.billed_seconds + excluded.billed_seconds,
               revenue = t.revenue + excluded.revenue, cost = t.cost + excluded.cost`;
  await client.query(
    `INSERT INTO usage_prefix_daily AS t (seller_id, time_zone, day, prefix, calls, seconds, billed_seconds, revenue, cost)
     SELECT seller_id, time_zone, day, prefix, sum(calls), sum(seconds), sum(billed_seconds), sum(revenue), sum(cost)
       FROM usage_daily WHERE account_id IN (SELECT id FROM bench_accounts) GROUP BY seller_id, time_zone, day, prefix
     ON CONFLICT (seller_id, time_zone, day, prefix) DO UPDATE SET ${ADD}`,
  );
  await client.query(
    `INSERT INTO usage_customer_daily AS t (seller_id, time_zone, day, customer_id, calls, seconds, billed_seconds, revenue, cost)
     SELECT seller_id, time_zone, day, customer_id, sum(calls), sum(seconds), sum(billed_seconds), sum(revenue), sum(cost)
       FROM usage_daily WHERE account_id IN (SELECT id FROM bench_accounts) GROUP BY seller_id, time_zone, day, customer_id
     ON CONFLICT (seller_id, time_zone, day, customer_id) DO UPDATE SET ${ADD}`,
  );
  phase('rollup');
  await client.query('ANALYZE calls; ANALYZE call_charges; ANALYZE usage_daily; ANALYZE usage_prefix_daily; ANALYZE usage_customer_daily');
  phase('analyze');
  return phases;
}

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];

async function timed(canopy, token, url, runs = RUNS) {
  const times = [];
  let body;
  for (let i = 0; i < runs + 2; i++) {
    const started = performance.now();
    const res = await fetch(`${canopy.url}${url}`, { headers: { authorization: `Bearer ${token}` } });
    body = await res.json();
    if (res.status !== 200) throw new Error(`GET ${url}: ${res.status} ${JSON.stringify(body).slice(0, 300)}`);
    if (i >= 2) times.push(performance.now() - started); // two warm-ups
  }
  times.sort((a, b) => a - b);
  return { p50: Math.round(percentile(times, 50)), p99: Math.round(percentile(times, 99)), body };
}

async function usageBench({ canopy, databaseUrl }) {
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    // The seeding session sorts and hashes millions of rows and keeps a 1M-row temporary table: in memory.
    await client.query(`SET work_mem = '256MB'; SET temp_buffers = '512MB'`);
    const started = performance.now();
    const seeded = await seedTree(canopy, client);
    const phases = await seedCalls(client, seeded);
    const seedSeconds = (performance.now() - started) / 1000;
    const { rows: counts } = await client.query(
      `SELECT (SELECT count(*) FROM usage_daily WHERE seller_id = $1)::int AS rollup, (SELECT count(*) FROM call_charges WHERE seller_id = $1)::int AS sold`,
      [seeded.reseller.id],
    );
    const { rows: range } = await client.query(
      `SELECT to_char((now() AT TIME ZONE 'Europe/Paris')::date - ${DAYS - 1}, 'YYYY-MM-DD') AS "from",
              to_char((now() AT TIME ZONE 'Europe/Paris')::date, 'YYYY-MM-DD') AS "to"`,
    );
    const { from, to } = range[0];
    process.stdout.write(
      `\n## Usage report (GET /v1/usage over ${CALLS.toLocaleString('en')} calls, ${ACCOUNTS.toLocaleString('en')} accounts)\n\n` +
        `The calls were written with SQL, not posted (calls, three charges each, the daily rollup; no ledger entries): ` +
        `seeded in ${seedSeconds.toFixed(1)} s (${phases.join(', ')}). The reseller sold ${counts[0].sold.toLocaleString('en')} charges; its rollup holds ` +
        `${counts[0].rollup.toLocaleString('en')} rows (local day × account × prefix). Report ${from} … ${to} (Europe/Paris), ${RUNS} sequential requests each, first page of 50 groups:\n\n` +
        `| groupBy | groups on the page | p50 ms | p99 ms |\n|---|---:|---:|---:|\n`,
    );
    const figures = {};
    let worst = 0;
    for (const groupBy of ['account', 'customer', 'day', 'prefix']) {
      const r = await timed(canopy, seeded.token, `/v1/usage?groupBy=${groupBy}&from=${from}&to=${to}`);
      figures[groupBy] = { p50: r.p50, p99: r.p99 };
      worst = Math.max(worst, r.p99);
      process.stdout.write(`| ${groupBy} | ${r.body.items.length} | ${r.p50} | ${r.p99} |\n`);
      if (groupBy === 'account') {
        // A page deep in the list: the cursor after the 100th page's worth of groups is reached by walking.
        let cursor = r.body.nextCursor;
        for (let i = 0; i < 100 && cursor; i++) {
          const res = await fetch(`${canopy.url}/v1/usage?groupBy=account&from=${from}&to=${to}&limit=50&cursor=${encodeURIComponent(cursor)}`, {
            headers: { authorization: `Bearer ${seeded.token}` },
          });
          cursor = (await res.json()).nextCursor;
        }
        if (cursor) {
          const deep = await timed(canopy, seeded.token, `/v1/usage?groupBy=account&from=${from}&to=${to}&cursor=${encodeURIComponent(cursor)}`);
          figures.accountDeep = { p50: deep.p50, p99: deep.p99 };
          worst = Math.max(worst, deep.p99);
          process.stdout.write(`| account, page 102 (cursor) | ${deep.body.items.length} | ${deep.p50} | ${deep.p99} |\n`);
        }
      }
    }
    // The exact fallback (summing the sold rows), as when days are asked in another zone than the rollup's: for reference.
    const sub = (await client.query(`SELECT id FROM bench_subs WHERE n = 1`)).rows[0].id;
    const fallback = await timed(canopy, seeded.token, `/v1/usage?groupBy=account&from=${from}&to=${to}&customerId=${sub}`, 5);
    process.stdout.write(
      `\nFor reference, the exact fallback (no rollup in the asked zone: a sub-customer in Asia/Tokyo reported in R's zone, ` +
        `${(CALLS / SUBCUSTOMERS).toLocaleString('en')} sold charges summed): p50 ${fallback.p50} ms, p99 ${fallback.p99} ms (5 requests).\n` +
        `\nSlowest p99 of the rollup reports: ${worst} ms (target < 500 ms).\n`,
    );
    return { figures, worst, fallback };
  } finally {
    await client.end();
  }
}

module.exports = { usageBench, seedTree, seedCalls };
