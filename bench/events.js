'use strict';
/**
 * Events (issue 14): what the transactional outbox costs the posting. The posting scenarios
 * of bench/balances.js (16 clients, spread over 1,000 customers and on one hot customer) are
 * measured with the outbox triggers as they are and with them disabled
 * (`ALTER TABLE … DISABLE TRIGGER`, on the benchmark's own database), alternately, twice
 * each; the ratio on/off is the figure (target ≥ 0.8). Also: how long after the load stops
 * the relay has moved every outbox row into the feed.
 */
const { Client } = require('pg');
const { run, summarize, printTable, settle, setOutboxTriggers } = require('./lib');
const { postingRequest } = require('./balances');

/** Milliseconds until nothing waits for the relay (`event_backlog` empty), polled every 10 ms. */
async function drainMs(databaseUrl) {
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  const start = Date.now();
  try {
    for (;;) {
      const { rows } = await client.query('SELECT count(*)::int AS n FROM event_backlog');
      if (rows[0].n === 0) return Date.now() - start;
      if (Date.now() - start > 60000) return NaN;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  } finally {
    await client.end();
  }
}

async function eventsBench({ canopy, db, posting, duration = 10 }) {
  const { token, customerIds } = posting;
  const hot = customerIds[0];
  const spread = () => customerIds[Math.floor(Math.random() * customerIds.length)];
  const connections = 16;
  const sums = { spread: { on: 0, off: 0 }, hot: { on: 0, off: 0 } };
  const rows = [];
  const drains = [];
  try {
    for (const round of [1, 2]) {
      for (const state of round === 1 ? ['on', 'off'] : ['off', 'on']) {
        await setOutboxTriggers(db.url, state === 'on');
        await settle(db.url);
        for (const [kind, pick, label] of [
          ['spread', spread, 'over 1,000 customers'],
          ['hot', () => hot, 'on one hot customer'],
        ]) {
          const result = await run({ url: canopy.url, connections, duration, requests: [postingRequest(token, pick)] });
          const row = summarize(`postings ${label}, events ${state}, round ${round}`, result);
          row.requestsPerSecond = Math.round(result['2xx'] / duration);
          rows.push(row);
          sums[kind][state] += row.requestsPerSecond;
          if (state === 'on') drains.push(await drainMs(db.url));
        }
      }
    }
  } finally {
    await setOutboxTriggers(db.url, true);
  }
  printTable(`Events: postings with the outbox triggers on and off (${connections} clients, ${duration}s each, two rounds)`, rows);
  const ratio = (kind) => sums[kind].on / sums[kind].off;
  process.stdout.write(
    `\n| scenario | events on /s | events off /s | ratio (target ≥ 0.8) |\n|---|---:|---:|---:|\n` +
      ['spread', 'hot']
        .map((kind) => `| ${kind} | ${Math.round(sums[kind].on / 2)} | ${Math.round(sums[kind].off / 2)} | ${ratio(kind).toFixed(2)} |`)
        .join('\n') +
      `\n\nOutbox drained (every event in the feed) ${drains.map((ms) => `${ms} ms`).join(', ')} after each loaded scenario ended.\n`,
  );
  return { spread: ratio('spread'), hot: ratio('hot'), drains };
}

module.exports = { eventsBench };
