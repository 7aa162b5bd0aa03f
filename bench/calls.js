'use strict';
/**
 * Usage (issue 13): calls rated and charged per second through 1,000-call batches
 * (`POST /v1/calls`), for accounts four levels deep (root → C1 → C2 → C3 → C4 → accounts:
 * five charged levels per call, one of them converting USD into EUR with its seller's
 * table), and two ratios measured in the same run: against the single-posting raw-SQL limit
 * (bench/posting-limit.js), and against the raw-SQL floor of the writes 1,000 calls require
 * (bench/calls-limit.js, same clients). Calls/s counts the calls rows written (rated), not
 * requests.
 */
const { randomBytes } = require('node:crypto');
const { Client } = require('pg');
const { run, summarize, printTable, login, ROOT_PASSWORD } = require('./lib');
const { postingLimit } = require('./posting-limit');
const { callsLimit } = require('./calls-limit');

const BATCH_SIZE = 1000;
const ACCOUNTS = 1000;
const PASSWORD = 'bench-calls-password';

async function api(canopy, token, method, path, body) {
  const res = await fetch(`${canopy.url}${path}`, {
    method,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 300)}`);
  return text ? JSON.parse(text) : undefined;
}

/** Rates for every 2-digit prefix 10–99 and every 3-digit one below it (990 per tariff), straight into SQL. */
async function seedRates(client, tariffIds) {
  await client.query(
    `INSERT INTO rates (tariff_id, prefix, price, first_interval, next_interval, connect_fee, effective_from)
     SELECT t, p, round((0.001 + random() * 0.2)::numeric, 5), 1 + (length(p) % 2) * 29, 1 + (length(p) % 2) * 5, 0, '2020-01-01T00:00:00Z'
       FROM unnest($1::uuid[]) t,
            (SELECT g::text AS p FROM generate_series(10, 99) g UNION ALL SELECT g::text FROM generate_series(100, 999) g) prefixes`,
    [tariffIds],
  );
}

/** The chain root → C1 → C2 (EUR) → C3 → C4 through the API, C4's accounts straight into SQL. */
async function seedChain(canopy, databaseUrl) {
  const rootToken = await login(canopy, 'root', ROOT_PASSWORD);
  const tag = randomBytes(3).toString('hex');
  const tariffIds = [];
  let parentToken = rootToken;
  let parentId;
  for (let level = 1; level <= 4; level++) {
    const tariff = await api(canopy, parentToken, 'POST', '/v1/tariffs', { name: `bench-calls-${tag}-t${level}`, currency: 'USD', connectFee: '0.001' });
    tariffIds.push(tariff.id);
    const webLogin = `bench-calls-${tag}-c${level}`;
    const customer = await api(canopy, parentToken, 'POST', '/v1/customers', {
      name: webLogin,
      tariffId: tariff.id,
      webLogin,
      webPassword: PASSWORD,
      baseCurrency: level === 2 ? 'EUR' : 'USD',
    });
    // C1 sells to C2 (EUR) on a USD tariff: converted with C1's table.
    if (level === 1) {
      const token = await login(canopy, webLogin, PASSWORD);
      await api(canopy, token, 'PUT', '/v1/exchange-rates/EUR', { rate: '1.08' });
    }
    // C2 (EUR) sells to C3 (USD) on a USD tariff; C3 needs USD in C2's table for its revenue in EUR.
    if (level === 2) {
      const token = await login(canopy, webLogin, PASSWORD);
      await api(canopy, token, 'PUT', '/v1/exchange-rates/USD', { rate: '0.92' });
    }
    parentToken = await login(canopy, webLogin, PASSWORD);
    parentId = customer.id;
  }
  const accountTariff = await api(canopy, parentToken, 'POST', '/v1/tariffs', { name: `bench-calls-${tag}-ta`, currency: 'USD', freeSeconds: 3 });
  tariffIds.push(accountTariff.id);
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await seedRates(client, tariffIds);
    const { rows } = await client.query(
      `INSERT INTO accounts (customer_id, username, web_password_hash, voip_password, tariff_id, time_zone, language)
       SELECT $1, 'bench-calls-' || $2 || '-' || g, 'not-a-login', 'voip', $3, 'UTC', 'en' FROM generate_series(1, ${ACCOUNTS}) g
       RETURNING id`,
      [parentId, tag, accountTariff.id],
    );
    await client.query('ANALYZE');
    return { rootToken, accountIds: rows.map((r) => r.id) };
  } finally {
    await client.end();
  }
}

let serial = 0;
function callsBody(accountIds) {
  const prefix = randomBytes(6).toString('hex');
  const calls = [];
  const now = Date.now();
  for (let i = 0; i < BATCH_SIZE; i++) {
    calls.push({
      callId: `${prefix}-${++serial}`,
      accountId: accountIds[Math.floor(Math.random() * accountIds.length)],
      number: `+${10 + Math.floor(Math.random() * 90)}${String(Math.floor(Math.random() * 1e9)).padStart(9, '0')}`,
      connectTime: new Date(now - Math.floor(Math.random() * 86400000)).toISOString(),
      duration: Math.floor(Math.random() * 600),
    });
  }
  return JSON.stringify({ calls });
}

async function countCalls(databaseUrl) {
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return Number((await client.query('SELECT count(*) AS n FROM calls')).rows[0].n);
  } finally {
    await client.end();
  }
}

async function callsBench({ canopy, db, duration = 10, connections = Number(process.env.BENCH_CALLS_CLIENTS ?? 4), limit }) {
  const { rootToken, accountIds } = await seedChain(canopy, db.url);
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${rootToken}` };
  const probe = await fetch(`${canopy.url}/v1/calls`, { method: 'POST', headers, body: callsBody(accountIds.slice(0, 1)) });
  const probeBody = await probe.json();
  if (probe.status !== 200) throw new Error(`calls probe: ${probe.status} ${JSON.stringify(probeBody).slice(0, 300)}`);
  const refused = probeBody.items.filter((i) => i.status !== 'rated');
  if (refused.length) throw new Error(`calls probe: ${refused.length} refused, e.g. ${JSON.stringify(refused[0]).slice(0, 300)}`);
  // Bodies (each call id used once) are built before the run so that the client's own work does not count.
  const bodies = Array.from({ length: Math.max(40, duration * 12) }, () => callsBody(accountIds));
  let next = 0;
  const before = await countCalls(db.url);
  const result = await run({
    url: canopy.url,
    connections,
    duration,
    timeout: 60,
    requests: [{ method: 'POST', path: '/v1/calls', setupRequest: (req) => ({ ...req, headers, body: bodies[next++] ?? callsBody(accountIds) }) }],
  });
  const rated = (await countCalls(db.url)) - before;
  const callsPerSecond = Math.round(rated / duration);
  const row = summarize(`batches of ${BATCH_SIZE} calls, 5 levels, ${connections} clients`, result);
  printTable(`Calls (${duration}s)`, [row]);
  const stick = limit?.spread?.[16] ?? (await postingLimit({ databaseUrl: db.url, duration, clients: [16] }))?.spread?.[16];
  process.stdout.write(
    `\n${rated} calls rated and charged at 5 levels (${rated * 5} ledger entries) in ${duration} s: ${callsPerSecond} calls/s` +
      (stick ? `; single-posting raw-SQL limit (spread, 16 clients) ${Math.round(stick)} tps: ratio ${(callsPerSecond / stick).toFixed(2)}\n` : '\n'),
  );
  const floor = await callsLimit({ databaseUrl: db.url, duration, clients: connections });
  if (floor) {
    process.stdout.write(
      `The raw-SQL floor of the writes (bench/calls-limit.js: per call the call row, 5 ledger entries, 5 balance updates as a set, 6 events; ` +
        `1,000 calls a transaction, ${connections} clients, ${floor.seconds} s, in ${floor.where}): ${floor.callsPerSecond} calls/s; ` +
        `Canopy / floor: ${(callsPerSecond / floor.callsPerSecond).toFixed(2)}\n`,
    );
  }
  return { row, callsPerSecond, stick, floor: floor?.callsPerSecond };
}

module.exports = { callsBench, seedChain, callsBody };
