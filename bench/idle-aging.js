'use strict';
/**
 * Does a Canopy that has idled serve as cheaply as a fresh one? (Not part of `npm run bench`.)
 * One embedded PostgreSQL with the 100k tree; for each build in AGING_VARIANTS (directories
 * holding a built `src/main.js`, default `dist`): a fresh Canopy measured at once, and another
 * measured after AGING_IDLE_SECONDS (default 40) of no traffic. Each runs the subtree first
 * page for 3 s of warm-up and AGING_SECONDS (default 8) measured, under `--trace-gc`, and
 * prints req/s, Node CPU per page, and the young collections (count, mean ms) and full
 * collections of the measured seconds.
 *
 * Found with it: V8's allocation-site pretenuring, taught by the idle pause, sent the request
 * path's short-lived objects to the old generation (scavenges 2–5× longer, a full collection
 * every 1–2 s, +20–30 % Node CPU per page); src/common/heap.ts turns it off.
 */
const path = require('node:path');
const { Client } = require('pg');
const { ROOT, startDatabase, startCanopy, run, login, cpuMs } = require('./lib');
const { seedTree, heapTree } = require('./tree');

/** Canopy from `dist` with --trace-gc, its GC lines collected while `collecting` is on. */
async function startTraced(dist, databaseUrl) {
  const canopy = await startCanopy(databaseUrl, {}, ['--trace-gc'], path.join(ROOT, dist), { stdout: 'pipe' });
  const gc = { collecting: false, lines: [] };
  canopy.stdout.setEncoding('utf8');
  canopy.stdout.on('data', (chunk) => {
    if (gc.collecting) gc.lines.push(...chunk.split('\n').filter((l) => /Scavenge|Mark-Compact/.test(l)));
  });
  return { ...canopy, gc };
}

async function measure(canopy, token, seconds) {
  const target = { url: `${canopy.url}/v1/customers?scope=subtree`, headers: { authorization: `Bearer ${token}` }, connections: 10 };
  await run({ ...target, duration: 3 });
  canopy.gc.collecting = true;
  const c0 = cpuMs(canopy.pid);
  const r = await run({ ...target, duration: seconds });
  const c1 = cpuMs(canopy.pid);
  canopy.gc.collecting = false;
  const scavenges = canopy.gc.lines.filter((l) => l.includes('Scavenge')).map((l) => Number(/MB, ([\d.]+) \//.exec(l)?.[1] ?? 0));
  return {
    rps: Math.round(r.requests.average),
    p99: r.latency.p99,
    nodeMsPerPage: ((c1 - c0) / r.requests.total).toFixed(3),
    scavenges: scavenges.length,
    scavengeMs: (scavenges.reduce((a, b) => a + b, 0) / Math.max(1, scavenges.length)).toFixed(2),
    fullCollections: canopy.gc.lines.filter((l) => l.includes('Mark-Compact')).length,
  };
}

async function main() {
  const variants = (process.env.AGING_VARIANTS ?? 'dist').split(',');
  const idle = Number(process.env.AGING_IDLE_SECONDS ?? 40);
  const seconds = Number(process.env.AGING_SECONDS ?? 8);
  const db = await startDatabase();
  try {
    // A Canopy first: its migrations make the schema the tree is seeded into.
    const migrator = await startCanopy(db.url, {}, [], path.join(ROOT, variants[0]));
    const client = new Client({ connectionString: db.url });
    await client.connect();
    await seedTree(client, 100_000);
    await client.query('ANALYZE');
    await client.end();
    await migrator.stop();
    const tree = heapTree(100_000);
    let big = 2;
    for (let h = 2; h <= 200; h++) if (Math.abs(tree.descendants(h) - 10_000) < Math.abs(tree.descendants(big) - 10_000)) big = h;
    for (const dist of variants) {
      for (const state of ['fresh', `idled ${idle} s`]) {
        const canopy = await startTraced(dist, db.url);
        try {
          const token = await login(canopy, `bench-${big}`, 'bench-password-123');
          if (state !== 'fresh') await new Promise((resolve) => setTimeout(resolve, idle * 1000));
          process.stdout.write(`${JSON.stringify({ build: dist, state, ...(await measure(canopy, token, seconds)) })}\n`);
        } finally {
          await canopy.stop();
        }
      }
    }
  } finally {
    await db.stop();
  }
}

main().catch((error) => {
  process.stderr.write(`${error.stack ?? error}\n`);
  process.exit(1);
});
