'use strict';
/**
 * A tight loop for the read path (figures 2 and 5 of issue 12), not part of `npm run bench`:
 * one PostgreSQL seeded once (the 100k tree and the 1,000 posting customers), then, for each
 * build named in READS_VARIANTS (directories holding a built `src/main.js`, default `dist`),
 * interleaved over READS_ROUNDS rounds (A, B, A, B…): a fresh Canopy, a short warm-up, and each
 * scenario for READS_SECONDS, printing req/s, p50/p99 and CPU per request of Canopy and of
 * PostgreSQL (process CPU time from /proc), which contention changes much less than throughput.
 *
 *   READS_VARIANTS=.bench-before,dist READS_ROUNDS=2 node bench/reads.js
 *   READS_ONLY=get,first,second   READS_PROF=<dir> (node --cpu-prof)
 *   READS_VARIANTS=dist,dist+--max-semi-space-size=64: a variant's own node flags after `+`
 *   READS_ONLY=soak READS_SOAK_SECONDS=120 READS_NODE_ARGS=--trace-gc: bench/soak.js's mixed traffic
 */
const path = require('node:path');
const { Client } = require('pg');
const { ROOT, startDatabase, startCanopy, run, rssMiB, login, cpuMs, clusterCpuMs, postmasterPid } = require('./lib');
const { seedTree, heapTree } = require('./tree');
const { seedPostingCustomers } = require('./balances');
const { soakBench } = require('./soak');

/** Canopy from a build below the checkout (`dist`, `.bench-before`, …). */
const startCanopyFrom = (dir, databaseUrl, nodeArgs = []) => startCanopy(databaseUrl, {}, nodeArgs, path.join(ROOT, dir));

async function main() {
  const variants = (process.env.READS_VARIANTS ?? 'dist').split(',');
  const rounds = Number(process.env.READS_ROUNDS ?? 2);
  const seconds = Number(process.env.READS_SECONDS ?? 8);
  const only = process.env.READS_ONLY ? new Set(process.env.READS_ONLY.split(',')) : null;
  const prof = process.env.READS_PROF ? path.resolve(process.env.READS_PROF) : undefined;
  const db = await startDatabase();
  const pgPid = await postmasterPid(db.url);
  let canopy = await startCanopyFrom(variants[0].split('+')[0], db.url);
  const client = new Client({ connectionString: db.url });
  await client.connect();
  const { base } = await seedTree(client, 100_000);
  const tree = heapTree(100_000);
  let big = 2;
  for (let h = 2; h <= 200; h++) if (Math.abs(tree.descendants(h) - 10_000) < Math.abs(tree.descendants(big) - 10_000)) big = h;
  const posting = await seedPostingCustomers(canopy, db.url);
  await client.end();
  const bigToken = await login(canopy, `bench-${big}`, 'bench-password-123');
  const firstPage = await (await fetch(`${canopy.url}/v1/customers?scope=subtree`, { headers: { authorization: `Bearer ${bigToken}` } })).json();
  await canopy.stop();
  void base;
  const scenarios = [
    { key: 'get', url: `/v1/customers/${posting.customerIds[0]}`, token: posting.token },
    { key: 'first', url: '/v1/customers?scope=subtree', token: bigToken },
    { key: 'second', url: `/v1/customers?scope=subtree&cursor=${encodeURIComponent(firstPage.nextCursor)}`, token: bigToken },
  ].filter((s) => !only || only.has(s.key));
  const table = [];
  try {
    for (let round = 1; round <= rounds; round++) {
      for (const variant of variants) {
        // A variant may carry node flags of its own after a `+`: `dist+--max-semi-space-size=64`.
        const [dir, ...own] = variant.split('+');
        const nodeArgs = [...(prof ? ['--cpu-prof', `--cpu-prof-dir=${prof}`] : []), ...(process.env.READS_NODE_ARGS ?? '').split(' ').filter(Boolean), ...own];
        canopy = await startCanopyFrom(dir, db.url, nodeArgs);
        try {
          if (only?.has('soak')) {
            const soak = await soakBench({ canopy, posting, tree: { tokens: { big: bigToken } }, seconds: Number(process.env.READS_SOAK_SECONDS ?? 60) });
            process.stdout.write(`soak ${variant}: ${JSON.stringify({ ...soak, result: undefined })}\n`);
          }
          for (const s of scenarios) {
            const headers = { authorization: `Bearer ${s.token}` };
            await run({ url: canopy.url + s.url, headers, duration: 2, connections: 10 });
            // PostgreSQL's CPU: the postmaster and its live children (Canopy's pool keeps its backends).
            const [c0, p0] = [cpuMs(canopy.pid), clusterCpuMs(pgPid, { reaped: false })];
            const r = await run({ url: canopy.url + s.url, headers, duration: seconds, connections: 10 });
            const [c1, p1] = [cpuMs(canopy.pid), clusterCpuMs(pgPid, { reaped: false })];
            const n = r.requests.total;
            const row = {
              round,
              variant,
              scenario: s.key,
              rps: Math.round(r.requests.average),
              p50: r.latency.p50,
              p99: r.latency.p99,
              non2xx: r.non2xx,
              nodeMsPerReq: ((c1 - c0) / n).toFixed(3),
              pgMsPerReq: ((p1 - p0) / n).toFixed(3),
              rss: rssMiB(canopy.pid),
            };
            table.push(row);
            process.stdout.write(JSON.stringify(row) + '\n');
          }
        } finally {
          await canopy.stop();
        }
      }
    }
  } finally {
    await db.stop();
  }
  process.stdout.write('\n| round | variant | scenario | req/s | p50 | p99 | non-2xx | Node ms/req | PG ms/req | RSS |\n|---|---|---|---:|---:|---:|---:|---:|---:|---:|\n');
  for (const r of table) process.stdout.write(`| ${r.round} | ${r.variant} | ${r.scenario} | ${r.rps} | ${r.p50} | ${r.p99} | ${r.non2xx} | ${r.nodeMsPerReq} | ${r.pgMsPerReq} | ${r.rss} |\n`);
}

main().catch((error) => {
  process.stderr.write(`${error.stack ?? error}\n`);
  process.exit(1);
});
