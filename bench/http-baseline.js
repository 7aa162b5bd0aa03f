'use strict';
/**
 * Canopy against a bare Fastify server answering the same JSON on the same route, each in
 * its own process, in the same run: the public reference endpoint (GET /v1/languages, no
 * database) and an authenticated read (GET /v1/customers/{id}: the guard, the caller, the
 * access check, one indexed query).
 */
const { fork } = require('node:child_process');
const path = require('node:path');
const { freePort, run, summarize, printTable, rssMiB } = require('./lib');

/** A bare Fastify process answering `routes` ({path: body}). */
async function startBare(routes) {
  const port = await freePort();
  const child = fork(path.join(__dirname, 'bare-server.js'), [String(port), JSON.stringify(routes)]);
  await new Promise((resolve) => child.once('message', resolve));
  return { url: `http://127.0.0.1:${port}`, pid: child.pid, stop: () => child.kill('SIGTERM') };
}

/** One route on Canopy (with `headers`) and on a bare Fastify serving what Canopy answered. */
async function againstBare({ canopy, title, route, headers = {}, duration, connections }) {
  const res = await fetch(canopy.url + route, { headers });
  if (res.status !== 200) throw new Error(`GET ${route}: ${res.status} ${await res.text()}`);
  const body = await res.json();
  const bare = await startBare({ [route.replace(/\?.*$/, '')]: body });
  try {
    // 2 s of each, not counted (a fresh route's first requests: code not yet optimized).
    await run({ url: canopy.url + route, headers, duration: Math.min(2, duration), connections });
    await run({ url: bare.url + route, duration: Math.min(2, duration), connections });
    const canopyResult = summarize(`Canopy GET ${title}`, await run({ url: canopy.url + route, headers, duration, connections }));
    const bareResult = summarize(`bare Fastify GET ${title} (same body)`, await run({ url: bare.url + route, duration, connections }));
    printTable(`${title}: Canopy and bare Fastify (${connections} connections, ${duration}s each, after 2 s of each not counted)`, [canopyResult, bareResult]);
    const ratio = canopyResult.requestsPerSecond / bareResult.requestsPerSecond;
    process.stdout.write(`\nCanopy / bare Fastify throughput: ${ratio.toFixed(2)}; Canopy RSS ${rssMiB(canopy.pid)} MiB, bare RSS ${rssMiB(bare.pid)} MiB\n`);
    return { canopy: canopyResult, bare: bareResult, ratio };
  } finally {
    bare.stop();
  }
}

/** Figure 1: the public GET /v1/languages. */
function httpBaseline({ canopy, duration = 10, connections = 10 }) {
  return againstBare({ canopy, title: '/v1/languages (public)', route: '/v1/languages', duration, connections });
}

/** Figure 2: an authenticated GET /v1/customers/{id} (root reading one of its children). */
async function authenticatedBaseline({ canopy, token, customerId, duration = 10, connections = 10 }) {
  return againstBare({
    canopy,
    title: '/v1/customers/{id} (authenticated)',
    route: `/v1/customers/${customerId}`,
    headers: { authorization: `Bearer ${token}` },
    duration,
    connections,
  });
}

module.exports = { httpBaseline, authenticatedBaseline, startBare };
