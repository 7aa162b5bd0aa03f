'use strict';
/**
 * Canopy's reference endpoint (GET /v1/languages: public, no database) against a bare
 * Fastify server answering the same JSON, each in its own process, in the same run.
 */
const { fork } = require('node:child_process');
const path = require('node:path');
const { freePort, run, summarize, printTable, rss } = require('./lib');

async function startBare(route, body) {
  const port = await freePort();
  const child = fork(path.join(__dirname, 'bare-server.js'), [String(port), route, JSON.stringify(body)]);
  await new Promise((resolve) => child.once('message', resolve));
  return { url: `http://127.0.0.1:${port}`, pid: child.pid, stop: () => child.kill('SIGTERM') };
}

async function httpBaseline({ canopy, duration = 10, connections = 10 }) {
  const route = '/v1/languages';
  const body = await (await fetch(canopy.url + route)).json();
  const bare = await startBare(route, body);
  try {
    const canopyResult = summarize(`Canopy GET ${route}`, await run({ url: canopy.url + route, duration, connections }));
    const bareResult = summarize(`bare Fastify GET ${route}`, await run({ url: bare.url + route, duration, connections }));
    printTable(`HTTP baseline (${connections} connections, ${duration}s each)`, [canopyResult, bareResult]);
    const ratio = canopyResult.requestsPerSecond / bareResult.requestsPerSecond;
    process.stdout.write(`\nCanopy / bare Fastify throughput: ${ratio.toFixed(2)}; Canopy RSS ${rss(canopy.pid)}, bare RSS ${rss(bare.pid)}\n`);
    return { rows: [canopyResult, bareResult], ratio };
  } finally {
    bare.stop();
  }
}

module.exports = { httpBaseline };
