'use strict';
/**
 * Webhook delivery (issue 14): 10,000 events (`balance.changed`, from ten 1,000-operation
 * batches) delivered to a local receiver (node:http on 127.0.0.1, answering 204), signed, each
 * counted once by its `webhook-id`. Prints the seconds from the first batch sent to the last
 * event received, and from the last batch committed to the last event received (target of
 * the whole: < 30 s). Its own Canopy (WEBHOOK_ALLOW_PRIVATE_TARGETS=true, for the loopback
 * receiver) on its own database, so the other figures are not disturbed.
 *
 * Alone: `npm run build && BENCH_ONLY=webhooks node bench/run.js`.
 */
const http = require('node:http');
const { randomUUID } = require('node:crypto');
const { Client } = require('pg');
const { ROOT_PASSWORD, startCanopy, login } = require('./lib');

const EVENTS = 10000;
const BATCH = 1000;
const CUSTOMERS = 10;

async function ownDatabase(db) {
  if (!db.adminUrl) return db.url; // DATABASE_URL: the same database
  const admin = new Client({ connectionString: db.adminUrl });
  await admin.connect();
  await admin.query('CREATE DATABASE canopy_bench_webhooks');
  await admin.end();
  const url = new URL(db.url);
  url.pathname = '/canopy_bench_webhooks';
  return url.toString();
}

function startReceiver(onEvent) {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      onEvent(String(req.headers['webhook-id']));
      res.writeHead(204).end();
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

/** When the feed (`events`) first holds `count` events of the type: the relay's part of the time. */
async function watchFeed(url, type, count, stop) {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    while (!stop()) {
      const { rows } = await client.query('SELECT count(*)::int AS n FROM events WHERE type = $1', [type]);
      if (rows[0].n >= count) return performance.now();
      await new Promise((r) => setTimeout(r, 100));
    }
    return undefined;
  } finally {
    await client.end();
  }
}

async function webhooksBench({ db }) {
  const url = await ownDatabase(db);
  const canopy = await startCanopy(url, { WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true' });
  const seen = new Set();
  let lastAt = 0;
  let resolveAll;
  const all = new Promise((resolve) => (resolveAll = resolve));
  const server = await startReceiver((id) => {
    seen.add(id);
    lastAt = performance.now();
    if (seen.size >= EVENTS) resolveAll();
  });
  try {
    const token = await login(canopy, 'root', ROOT_PASSWORD);
    const auth = { 'content-type': 'application/json', authorization: `Bearer ${token}` };
    const post = async (path, body, extra = {}) => {
      const res = await fetch(`${canopy.url}${path}`, { method: 'POST', headers: { ...auth, ...extra }, body: JSON.stringify(body) });
      const text = await res.text();
      if (res.status >= 300) throw new Error(`${path}: ${res.status} ${text.slice(0, 300)}`);
      return JSON.parse(text);
    };
    const tariff = await post('/v1/tariffs', { name: `hooks-${randomUUID().slice(0, 6)}`, currency: 'USD' });
    const customers = [];
    for (let i = 0; i < CUSTOMERS; i++) {
      customers.push((await post('/v1/customers', { name: `hooks ${i}`, tariffId: tariff.id, webLogin: `hooks-${randomUUID().slice(0, 8)}`, webPassword: 'password-123' })).id);
    }
    const { port } = server.address();
    await post('/v1/webhook-endpoints', { url: `http://127.0.0.1:${port}/hooks`, events: ['balance.changed'] });
    const started = performance.now();
    let finished = false;
    const inFeed = watchFeed(url, 'balance.changed', EVENTS, () => finished);
    for (let b = 0; b < EVENTS / BATCH; b++) {
      const operations = Array.from({ length: BATCH }, (_, i) => ({ customerId: customers[i % CUSTOMERS], action: 'add_funds', amount: '1.25' }));
      await post('/v1/balance-operations/batch', { operations }, { 'idempotency-key': randomUUID() });
    }
    const committed = performance.now();
    const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error(`only ${seen.size} of ${EVENTS} events delivered after 120 s`)), 120000).unref());
    await Promise.race([all, timeout]).finally(() => (finished = true));
    const feedAt = await inFeed;
    const total = (lastAt - started) / 1000;
    const afterCommit = (lastAt - committed) / 1000;
    process.stdout.write(
      `\n## Webhooks\n\n${EVENTS.toLocaleString('en')} events delivered to a local receiver in ${total.toFixed(1)} s ` +
        `(${Math.round(EVENTS / total)} events/s; posting them took ${((committed - started) / 1000).toFixed(1)} s, the last arrived ${afterCommit.toFixed(1)} s after the last commit; ` +
        `all were in the feed ${feedAt ? ((feedAt - started) / 1000).toFixed(1) : '?'} s after the start; target < 30 s)\n`,
    );
    return { seconds: total, afterCommitSeconds: afterCommit };
  } finally {
    server.close();
    server.closeAllConnections();
    await canopy.stop();
  }
}

module.exports = { webhooksBench };
