'use strict';
/**
 * The cost of ONE posting, for comparing code versions or the outbox on/off side by side
 * (not part of `npm run bench`): one embedded PostgreSQL, one Canopy per variant, and
 * interleaved rounds (A, B, A, B …) of single postings spread over 1,000 customers (or on one
 * hot customer) at 16 clients. Per round: postings/s, Canopy CPU ms per posting (its process
 * time from /proc), PostgreSQL CPU ms per posting (the server's processes from /proc), and
 * statements per posting (pg_stat_statements when the server has it).
 *
 *   node bench/posting-cost.js [variant…]
 *
 * A variant is `name=distDir` (a built dist/ to start Canopy from; each variant gets its own
 * database; `name=distDir,triggers:on|off,ENV_VAR:value…`: the outbox triggers toggled for this
 * variant's rounds, settings given; variants differing only in triggers share one Canopy) or `events-on` / `events-off` (this dist/, one database, the outbox triggers toggled
 * as bench/events.js does). Defaults: `events-on events-off`.
 * POSTING_COST_ROUNDS (3), POSTING_COST_SECONDS (8), POSTING_COST_HOT=1 (one hot customer),
 * POSTING_COST_PROF=dir (Canopy under --cpu-prof), POSTING_COST_ANALYZE=1 (an ANALYZE after the
 * warm-up, as bench/balances.js does), POSTING_COST_NAPTIME=60s (the server's autovacuum_naptime
 * for this run, embedded server only: the embedded default is 5 s). Each round also prints the
 * dead versions of the balance rows and how many autovacuums they have had.
 */
const path = require('node:path');
const { Client } = require('pg');
const { ROOT, run, startDatabase, startCanopy, cpuMs, clusterCpuMs, postmasterPid, setOutboxTriggers } = require('./lib');
const { seedPostingCustomers, postingRequest } = require('./balances');

async function query(url, sql) {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(sql)).rows;
  } finally {
    await c.end();
  }
}

// Interrupted: stop what was started (the Canopies, then the database) before leaving.
const started = [];

async function main() {
  const specs = process.argv.slice(2).length ? process.argv.slice(2) : ['events-on', 'events-off'];
  const rounds = Number(process.env.POSTING_COST_ROUNDS ?? 3);
  const seconds = Number(process.env.POSTING_COST_SECONDS ?? 8);
  const hotOnly = process.env.POSTING_COST_HOT === '1';
  const prof = process.env.POSTING_COST_PROF ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(process.env.POSTING_COST_PROF)}`] : [];
  const db = await startDatabase();
  started.push(() => db.stop());
  const postmaster = await postmasterPid(db.url);
  if (process.env.POSTING_COST_NAPTIME && db.adminUrl) {
    await query(db.adminUrl, `ALTER SYSTEM SET autovacuum_naptime = '${process.env.POSTING_COST_NAPTIME.replace(/[^0-9a-z]/g, '')}'`);
    await query(db.adminUrl, 'SELECT pg_reload_conf()');
  }
  const variants = [];
  const canopies = new Map();
  try {
    for (const spec of specs) {
      let name = spec;
      let dist = path.join(ROOT, 'dist');
      let trigger = null;
      if (spec === 'events-on' || spec === 'events-off') trigger = spec === 'events-on';
      let extraEnv = {};
      if (trigger === null) {
        // Split at the first '=' and each setting at its first ':' (a value may hold either).
        const cut = (text, sep) => [text.slice(0, text.indexOf(sep)), text.slice(text.indexOf(sep) + 1)];
        const [n, rest] = cut(spec, '=');
        const [d, ...envs] = rest.split(',');
        name = n;
        dist = d;
        extraEnv = Object.fromEntries(envs.map((e) => cut(e, ':')));
        if (extraEnv.triggers) trigger = extraEnv.triggers === 'on';
        delete extraEnv.triggers;
      }
      dist = path.resolve(dist);
      // Variants differing only in the triggers share a database and a Canopy.
      const dbName = spec.startsWith('events-') ? 'cost_events' : `cost_${(dist + JSON.stringify(extraEnv)).replace(/\W/g, '_').slice(-40)}`.toLowerCase();
      if (!canopies.has(dbName)) {
        await query(db.url, `CREATE DATABASE ${dbName}`);
        await query(db.url, `ALTER DATABASE ${dbName} SET track_functions = 'pl'`);
        const url = new URL(db.url);
        url.pathname = `/${dbName}`;
        const canopy = await startCanopy(url.toString(), extraEnv, prof, dist);
        started.push(() => canopy.stop());
        const posting = await seedPostingCustomers(canopy, url.toString());
        canopies.set(dbName, { canopy, posting, url: url.toString() });
      }
      variants.push({ name, trigger, ...canopies.get(dbName) });
    }
    const hasStatements = await query(db.url, `SELECT 1 FROM pg_available_extensions WHERE name = 'pg_stat_statements'`).then((r) => r.length > 0);
    const results = new Map(variants.map((v) => [v.name, []]));
    // Warm-up: each variant briefly.
    for (const v of variants) {
      const pick = () => v.posting.customerIds[Math.floor(Math.random() * 1000)];
      await run({ url: v.canopy.url, connections: 16, duration: 2, requests: [postingRequest(v.posting.token, pick)] });
    }
    if (process.env.POSTING_COST_ANALYZE === '1') for (const { url } of canopies.values()) await query(url, 'ANALYZE');
    for (let round = 1; round <= rounds; round++) {
      const order = round % 2 ? variants : [...variants].reverse();
      for (const v of order) {
        if (v.trigger !== null) {
          await setOutboxTriggers(v.url, v.trigger);
        }
        const hot = v.posting.customerIds[0];
        const pick = hotOnly ? () => hot : () => v.posting.customerIds[Math.floor(Math.random() * 1000)];
        const [before] = await query(v.url, `SELECT xact_commit::bigint AS x FROM pg_stat_database WHERE datname = current_database()`);
        const n0 = cpuMs(v.canopy.pid);
        const p0 = clusterCpuMs(postmaster);
        const t0 = Date.now();
        const result = await run({ url: v.canopy.url, connections: 16, duration: seconds, requests: [postingRequest(v.posting.token, pick)] });
        const elapsed = (Date.now() - t0) / 1000;
        const n1 = cpuMs(v.canopy.pid);
        const p1 = clusterCpuMs(postmaster);
        const [after] = await query(v.url, `SELECT xact_commit::bigint AS x FROM pg_stat_database WHERE datname = current_database()`);
        const ok = result['2xx'];
        const row = {
          round,
          perSecond: ok / seconds,
          nodeMs: (n1 - n0) / ok,
          pgMs: (p1 - p0) / ok,
          xactPerPosting: (Number(after.x) - Number(before.x)) / ok,
          non2xx: result.non2xx,
          p99: result.latency.p99,
          elapsed,
        };
        results.get(v.name).push(row);
        const [balances] = await query(v.url, `SELECT n_dead_tup, autovacuum_count FROM pg_stat_user_tables WHERE relname = 'customer_balances'`);
        process.stdout.write(
          `${v.name.padEnd(12)} round ${round}: ${row.perSecond.toFixed(0)}/s  node ${row.nodeMs.toFixed(3)} ms  pg ${row.pgMs.toFixed(3)} ms  xact ${row.xactPerPosting.toFixed(2)}  p99 ${row.p99} ms  non2xx ${row.non2xx}` +
            `  dead balance versions ${balances.n_dead_tup}, autovacuums ${balances.autovacuum_count}\n`,
        );
      }
    }
    process.stdout.write(`\n| variant | postings/s (rounds) | Canopy CPU ms/posting | PostgreSQL CPU ms/posting |\n|---|---|---|---|\n`);
    const fmt = (xs, d) => xs.map((x) => x.toFixed(d)).join(', ');
    for (const [name, rows] of results) {
      process.stdout.write(`| ${name} | ${fmt(rows.map((r) => r.perSecond), 0)} | ${fmt(rows.map((r) => r.nodeMs), 3)} | ${fmt(rows.map((r) => r.pgMs), 3)} |\n`);
    }
    for (const [dbName, { url }] of canopies) {
      const fns = await query(url, `SELECT funcname, calls, round((self_time / calls)::numeric, 4) AS self_ms_per_call FROM pg_stat_user_functions WHERE calls > 0 ORDER BY self_time DESC`);
      process.stdout.write(`\n${dbName}: ${fns.map((f) => `${f.funcname} ${f.calls} calls, ${f.self_ms_per_call} ms/call`).join('; ')}\n`);
    }
    if (!hasStatements) process.stdout.write('\n(pg_stat_statements not available on this server)\n');
  } finally {
    for (const { canopy } of canopies.values()) await canopy.stop();
    await db.stop();
  }
}

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    void (async () => {
      for (const stop of started.reverse()) await stop().catch(() => undefined);
      process.exit(130);
    })();
  });
}

main().catch((error) => {
  process.stderr.write(`${error.stack ?? error}\n`);
  process.exit(1);
});
