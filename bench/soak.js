'use strict';
/**
 * Figure 6 of issue 12, memory: a soak of mixed traffic (reads of a customer, the public
 * reference list, subtree list pages, postings) for BENCH_SOAK_SECONDS (default 60), with the
 * Canopy process's resident set sampled every few seconds: at the start, at the end, and the
 * largest seen, after 10 s of the same traffic not counted. Growth from start to end under
 * steady traffic would be a leak.
 */
const { randomUUID } = require('node:crypto');
const { run, summarize, printTable, rssMiB } = require('./lib');

async function soakBench({ canopy, posting, tree, seconds = 60, connections = 10 }) {
  const { token, customerIds } = posting;
  const pick = () => customerIds[Math.floor(Math.random() * customerIds.length)];
  const rootAuth = { authorization: `Bearer ${token}` };
  // Each request picks its kind: 40% GET a customer, 20% GET /v1/languages, 20% a list page, 20% a posting.
  const request = {
    setupRequest: (req) => {
      const r = Math.random();
      if (r < 0.4) return { ...req, method: 'GET', path: `/v1/customers/${pick()}`, headers: rootAuth, body: undefined };
      if (r < 0.6) return { ...req, method: 'GET', path: '/v1/languages', headers: {}, body: undefined };
      if (r < 0.8) {
        const pathAndAuth = tree
          ? { path: '/v1/customers?scope=subtree', headers: { authorization: `Bearer ${tree.tokens.big}` } }
          : { path: '/v1/customers?limit=50', headers: rootAuth };
        return { ...req, method: 'GET', body: undefined, ...pathAndAuth };
      }
      return {
        ...req,
        method: 'POST',
        path: `/v1/customers/${pick()}/balance-operations`,
        headers: { ...rootAuth, 'content-type': 'application/json', 'idempotency-key': randomUUID() },
        body: JSON.stringify({ action: Math.random() < 0.5 ? 'add_funds' : 'debit', amount: '1.25' }),
      };
    },
  };
  // 10 s of the same traffic first, not counted: the process comes to the soak from an idle
  // spell (the database settling) in which V8 gave heap back, and grows to its working size in
  // the first seconds of load; growth is what happens after that.
  const warmUp = Math.min(10, seconds);
  const idle = rssMiB(canopy.pid);
  await run({ url: canopy.url, connections, duration: warmUp, requests: [request] });
  process.stdout.write(`\nCanopy RSS ${idle} MiB before the soak, ${rssMiB(canopy.pid)} MiB after ${warmUp} s of the same traffic (not counted)\n`);
  const samples = [{ t: 0, rss: rssMiB(canopy.pid) }];
  const started = Date.now();
  const timer = setInterval(() => samples.push({ t: Math.round((Date.now() - started) / 1000), rss: rssMiB(canopy.pid) }), 5000);
  let result;
  try {
    result = await run({ url: canopy.url, connections, duration: seconds, requests: [request] });
  } finally {
    clearInterval(timer);
  }
  samples.push({ t: Math.round((Date.now() - started) / 1000), rss: rssMiB(canopy.pid) });
  const start = samples[0].rss;
  const end = samples[samples.length - 1].rss;
  const max = Math.max(...samples.map((s) => s.rss));
  // RSS saws up and down with garbage collection: growth is judged on the lows, the lowest of
  // the last third of the samples against the lowest of the first third.
  const third = Math.max(1, Math.floor(samples.length / 3));
  const firstLow = Math.min(...samples.slice(0, third).map((s) => s.rss));
  const lastLow = Math.min(...samples.slice(-third).map((s) => s.rss));
  printTable(`Soak: mixed traffic for ${seconds} s (${connections} connections)`, [summarize('40% GET customer, 20% GET languages, 20% list page, 20% posting', result)]);
  process.stdout.write(
    `\nCanopy RSS during the soak (MiB, every 5 s): ${samples.map((s) => s.rss).join(', ')}\n` +
      `start ${start} MiB, end ${end} MiB (${end >= start ? '+' : ''}${end - start}), largest ${max} MiB; ` +
      `lowest of the first third ${firstLow} MiB, of the last third ${lastLow} MiB\n`,
  );
  return { start, end, max, firstLow, lastLow, result };
}

module.exports = { soakBench };
