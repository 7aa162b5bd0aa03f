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

/** 1M calls, their three charges each, and the rollup of every seller, in SQL. */
async function seedCalls(client, seeded) {
  // Per call: account, prefix, number, time (the last DAYS days, newest first), duration, and per level price and amount (60/60).
  await client.query(
    `CREATE TEMP TABLE bench_calls AS
     SELECT gen_random_uuid() AS id, i, a.id AS account_id, s.id AS sub_id, s.tariff_id AS sub_tariff,
            p.prefix, p.k, p.prefix || lpad((i % 1000000)::text, 8, '0') AS number,
            now() - make_interval(secs => i * ($2 * 86400.0 / $1)) AS connect_time,
            (i * 37) % 600 AS duration,
            CASE WHEN (i * 37) % 600 = 0 THEN 0 ELSE ceil(((i * 37) % 600) / 60.0)::int * 60 END AS billed
       FROM generate_series(1, $1) AS i
       JOIN bench_accounts a ON a.n = i % ${ACCOUNTS}
       JOIN bench_subs s ON s.n = a.sub
       JOIN (SELECT k - 1 AS k, prefix FROM unnest($3::text[]) WITH ORDINALITY AS x(prefix, k)) p ON p.k = i % ${PREFIXES.length}`,
    [CALLS, DAYS, PREFIXES],
  );
  // Prices per minute: the account pays 0.02·(k+1), the sub-customer 0.015·(k+1), the reseller 0.01·(k+1).
  const price = (level) => `(${['0.02', '0.015', '0.01'][level]} * (b.k + 1))`;
  const amount = (level) => `round(${price(level)} * b.billed / 60, 8)`;
  await client.query(
    `INSERT INTO calls (id, poster_id, call_id, account_id, customer_id, customer_path, number, connect_time, duration)
     SELECT b.id, $1, 'usage-bench-' || b.i, b.account_id, b.sub_id, c.path, b.number, b.connect_time, b.duration
       FROM bench_calls b JOIN customers c ON c.id = b.sub_id`,
    [seeded.rootId],
  );
  const levels = [
    // level, party kind, party, depth, seller, tariff, revenue = own amount, seller's cost = the next level's amount
    [0, `'account'`, 'b.account_id', 3, 'b.sub_id', 'b.sub_tariff', amount(1)],
    [1, `'customer'`, 'b.sub_id', 2, `'${seeded.reseller.id}'::uuid`, `'${seeded.t1}'::uuid`, amount(2)],
    [2, `'customer'`, `'${seeded.reseller.id}'::uuid`, 1, `'${seeded.rootId}'::uuid`, `'${seeded.t0}'::uuid`, '0'],
  ];
  for (const [level, kind, party, depth, seller, tariff, sellerCost] of levels) {
    await client.query(
      `INSERT INTO call_charges (call_uuid, level, party_kind, party_id, party_depth, seller_id, tariff_id, prefix, price, billed_seconds,
                                 amount, currency, exchange_rate, converted_amount, charged_currency, ledger_entry_id,
                                 revenue, seller_cost, seller_currency, account_id, customer_id, customer_path, number, connect_time, duration)
       SELECT b.id, ${level}, ${kind}, ${party}, ${depth}, ${seller}, ${tariff}, b.prefix, ${price(level)}, b.billed,
              ${amount(level)}, 'USD', 1, ${amount(level)}, 'USD', NULL,
              ${amount(level)}, ${sellerCost}, 'USD', b.account_id, b.sub_id, c.path, b.number, b.connect_time, b.duration
         FROM bench_calls b JOIN customers c ON c.id = b.sub_id`,
    );
  }
  await client.query(
    `INSERT INTO usage_daily (seller_id, time_zone, day, account_id, customer_id, customer_path, prefix, calls, seconds, billed_seconds, revenue, cost)
     SELECT cc.seller_id, s.time_zone, (cc.connect_time AT TIME ZONE s.time_zone)::date, cc.account_id, cc.customer_id, cc.customer_path, cc.prefix,
            count(*), sum(cc.duration), sum(cc.billed_seconds), sum(cc.revenue), sum(cc.seller_cost)
       FROM call_charges cc JOIN customers s ON s.id = cc.seller_id
      WHERE cc.call_uuid IN (SELECT id FROM bench_calls)
      GROUP BY 1, 2, 3, 4, 5, 6, 7`,
  );
  await client.query('ANALYZE calls; ANALYZE call_charges; ANALYZE usage_daily');
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
    const started = performance.now();
    const seeded = await seedTree(canopy, client);
    await seedCalls(client, seeded);
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
        `seeded in ${seedSeconds.toFixed(1)} s. The reseller sold ${counts[0].sold.toLocaleString('en')} charges; its rollup holds ` +
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
