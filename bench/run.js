'use strict';
/**
 * `npm run bench`: builds, starts one PostgreSQL and one Canopy, runs every benchmark,
 * prints its figures and writes them to bench/RESULTS.md: the machine, the figures of this
 * run, the measuring sticks measured in the same run (bare Fastify, the raw-SQL posting
 * limit through pgbench), and a summary of the six figures of issue 12 with their ratios and
 * targets. Never part of `npm test`; nothing is asserted.
 *
 * BENCH_DURATION    seconds per scenario (default 10; pgbench runs at least 10)
 * BENCH_SOAK_SECONDS seconds of the mixed-traffic soak (default 60)
 * BENCH_CPU_PROF    a directory: Canopy runs with `node --cpu-prof` and writes its profile there
 */
const { existsSync, readFileSync, writeFileSync } = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { Client } = require('pg');
const { startDatabase, startCanopy, rssMiB, settle } = require('./lib');
const { httpBaseline, authenticatedBaseline } = require('./http-baseline');
const { balancesBench, seedPostingCustomers } = require('./balances');
const { batchBench } = require('./batch');
const { callsBench } = require('./calls');
const { ratesBench } = require('./rates');
const { treeBench } = require('./tree');
const { soakBench } = require('./soak');
const { startupBench } = require('./startup');
const { usageBench } = require('./usage-report');

/** Everything from this heading on in RESULTS.md is written by hand and survives a run. */
const HISTORY_HEADING = '## What each change bought';

/** Everything printed is also kept for RESULTS.md. */
let report = '';
const write = process.stdout.write.bind(process.stdout);
process.stdout.write = (chunk, ...rest) => {
  report += String(chunk);
  return write(chunk, ...rest);
};

async function serverVersion(url) {
  const client = new Client({ connectionString: url });
  await client.connect();
  const { rows } = await client.query('SHOW server_version');
  await client.end();
  return rows[0].server_version;
}

const fmt = (n, digits = 0) => (n === undefined || Number.isNaN(n) ? 'n/a' : Number(n).toLocaleString('en', { maximumFractionDigits: digits, minimumFractionDigits: digits }));

/** The six figures of issue 12, one row each (some figures have two): what, Canopy, stick, ratio, target, met. */
function summary(r) {
  const rows = [];
  const ratioRow = (figure, canopy, stick, unit, min) => {
    const ratio = canopy !== undefined && stick ? canopy / stick : undefined;
    rows.push([figure, canopy === undefined ? 'n/a' : `${fmt(canopy)} ${unit}`, stick ? `${fmt(stick)} ${unit}` : 'n/a', ratio === undefined ? 'n/a' : fmt(ratio, 2), `≥ ${min}`, ratio === undefined ? '—' : ratio >= min ? 'yes' : 'no']);
  };
  const belowRow = (figure, value, unit, max, extra = '') => {
    rows.push([figure, value === undefined ? 'n/a' : `${fmt(value)} ${unit}${extra}`, '—', '—', `< ${max} ${unit}`, value === undefined ? '—' : value < max ? 'yes' : 'no']);
  };
  ratioRow('1. public GET /v1/languages vs bare Fastify', r.languages?.canopy.requestsPerSecond, r.languages?.bare.requestsPerSecond, 'req/s', 0.5);
  ratioRow('2. authenticated GET /v1/customers/{id} vs bare Fastify', r.customerGet?.canopy.requestsPerSecond, r.customerGet?.bare.requestsPerSecond, 'req/s', 0.2);
  ratioRow('3. postings over 1,000 customers, 16 clients, vs raw SQL', r.balances?.figures.spread[16], r.balances?.limit?.spread[16], '/s', 0.5);
  ratioRow('3. postings on one hot customer, 16 clients, vs raw SQL', r.balances?.figures.hot[16], r.balances?.limit?.hot[16], '/s', 0.6);
  ratioRow('4. postings through 1,000-operation batches vs single-posting raw SQL (spread, 16)', r.batch?.postingsPerSecond, r.balances?.limit?.spread[16], '/s', 5);
  {
    // The same batches against the raw-SQL floor of their writes: what figure 4's target asks of that floor.
    const b = r.batch;
    const single = r.balances?.limit?.spread[16];
    const ratio = b?.floor ? b.postingsPerSecond / b.floor : undefined;
    rows.push([
      '4. the same batches vs the raw-SQL floor of their writes (1,000 operations a transaction, same clients)',
      b ? `${fmt(b.postingsPerSecond)} /s` : 'n/a',
      b?.floor ? `${fmt(b.floor)} /s` : 'n/a',
      ratio === undefined ? 'n/a' : fmt(ratio, 2),
      b?.floor && single ? `≥ ${fmt((5 * single) / b.floor, 2)} (5× single)` : '—',
      b?.floor && single ? (b.postingsPerSecond >= 5 * single ? 'yes' : 'no') : '—',
    ]);
  }
  {
    // Issue 13: calls rated and charged at five levels, ≥ 5,000 calls/s; its ratio against the single-posting raw-SQL limit.
    const c = r.calls;
    const ratio = c?.stick ? c.callsPerSecond / c.stick : undefined;
    rows.push([
      '13. calls rated and charged (5 levels) through 1,000-call batches vs single-posting raw SQL (spread, 16)',
      c ? `${fmt(c.callsPerSecond)} calls/s` : 'n/a',
      c?.stick ? `${fmt(c.stick)} /s` : 'n/a',
      ratio === undefined ? 'n/a' : fmt(ratio, 2),
      '≥ 5,000 calls/s',
      c ? (c.callsPerSecond >= 5000 ? 'yes' : 'no') : '—',
    ]);
    // The same calls against the raw-SQL floor of their writes (bench/calls-limit.js): what 5,000 calls/s asks of this machine.
    const floorRatio = c?.floor ? c.callsPerSecond / c.floor : undefined;
    rows.push([
      '13. the same calls vs the raw-SQL floor of their writes (1,000-call transactions, same clients)',
      c ? `${fmt(c.callsPerSecond)} calls/s` : 'n/a',
      c?.floor ? `${fmt(c.floor)} calls/s` : 'n/a',
      floorRatio === undefined ? 'n/a' : fmt(floorRatio, 2),
      c?.floor ? `≥ ${fmt(5000 / c.floor, 2)} (5,000 calls/s)` : '—',
      c?.floor ? (c.callsPerSecond >= 5000 ? 'yes' : 'no') : '—',
    ]);
  }
  belowRow('5. subtree first page p99 (100k customers, depth 12, 10 clients)', r.tree?.figures.firstPage.p99, 'ms', 20);
  belowRow('5. subtree second page (cursor) p99', r.tree?.figures.secondPage.p99, 'ms', 20);
  const search = r.tree?.figures.search;
  rows.push([
    '5. `?q=` on names (subtree of ~33k) p50 / p99',
    search ? `${search.p50} / ${search.p99} ms` : 'n/a',
    '—',
    '—',
    'served by customers_name_trgm',
    r.tree ? (r.tree.figures.searchIndexed ? 'yes' : 'no') : '—',
  ]);
  belowRow('6. Canopy RSS after the benchmark', r.soak?.end, 'MiB', 250);
  if (r.soak) {
    // "No growth": the lows of the last third of the soak within 10 % (at least 5 MiB) of the lows of its first third.
    const allowed = Math.max(5, r.soak.firstLow * 0.1);
    const growth = r.soak.lastLow - r.soak.firstLow;
    rows.push([
      `6. RSS over the ${r.soakSeconds}-second soak: start → end (lows, first → last third)`,
      `${r.soak.start} → ${r.soak.end} MiB (${r.soak.firstLow} → ${r.soak.lastLow})`,
      '—',
      '—',
      `lows grow ≤ ${fmt(allowed)} MiB`,
      growth <= allowed ? 'yes' : 'no',
    ]);
  } else {
    rows.push([`6. RSS over the soak`, 'n/a', '—', '—', 'no growth', '—']);
  }
  belowRow('13. GET /v1/usage over 1M calls, 10,000 accounts: slowest p99 (groupBy account, customer, day, prefix)', r.usage?.worst, 'ms', 500);
  process.stdout.write('\n## Summary: the six figures of issue 12\n\n| figure | Canopy | measuring stick | ratio | target | met? |\n|---|---:|---:|---:|---|---|\n');
  for (const row of rows) process.stdout.write(`| ${row.join(' | ')} |\n`);
}

/** Steps that start only once the database has settled from the one before (outbox moved, no autovacuum running, a checkpoint). */
const SETTLED_STEPS = new Set(['authenticated', 'balances', 'batches', 'events', 'calls', 'soak']);

async function main() {
  const duration = Number(process.env.BENCH_DURATION ?? 10);
  const soakSeconds = Number(process.env.BENCH_SOAK_SECONDS ?? 60);
  // BENCH_ONLY=tree,posting,balances (first words of the step names): a partial run, printed, RESULTS.md left alone.
  const only = process.env.BENCH_ONLY ? new Set(process.env.BENCH_ONLY.split(',').map((s) => s.trim())) : null;
  const profileDir = process.env.BENCH_CPU_PROF ? path.resolve(process.env.BENCH_CPU_PROF) : undefined;
  const db = await startDatabase();
  process.stdout.write(
    `# Canopy benchmarks\n\n` +
      `- run: ${new Date().toISOString()}, ${duration} s per scenario, soak ${soakSeconds} s\n` +
      `- machine: ${os.cpus().length} × ${os.cpus()[0]?.model}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.type()} ${os.release()}\n` +
      `- Node ${process.version}, PostgreSQL ${await serverVersion(db.url)} (${process.env.DATABASE_URL ? 'DATABASE_URL' : 'embedded'})\n` +
      `- load average at start: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} (figures from a loaded machine are lower)\n`,
  );
  const canopy = await startCanopy(db.url, {}, profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []);
  process.stdout.write(`- Canopy RSS after start: ${rssMiB(canopy.pid)} MiB${profileDir ? ` (running with --cpu-prof, profile in ${profileDir})` : ''}\n`);
  const results = { soakSeconds };
  try {
    // One failing benchmark is reported and the others still run.
    const step = async (name, fn) => {
      if (only && !only.has(name.split(' ')[0])) return undefined;
      try {
        // Measured steps that write or follow writes start from a settled database (bench/lib.js).
        if (SETTLED_STEPS.has(name.split(' ')[0])) {
          const waited = await settle(db.url);
          process.stdout.write(`\n_${name}: started once the database had settled (${waited} ms)._\n`);
        }
        return await fn();
      } catch (error) {
        process.stdout.write(`\n**${name} failed:** ${error.message}${error.cause ? ` (${error.cause.code ?? error.cause})` : ''}\n`);
        return undefined;
      }
    };
    results.languages = await step('HTTP baseline', () => httpBaseline({ canopy, duration }));
    // The tree benchmark seeds 100k customers and wants a database holding only the root.
    results.tree = await step('tree', () => treeBench({ canopy, databaseUrl: db.url, duration }));
    const posting = await step('posting customers', () => seedPostingCustomers(canopy, db.url));
    if (posting) {
      results.customerGet = await step('authenticated GET', () =>
        authenticatedBaseline({ canopy, token: posting.token, customerId: posting.customerIds[0], duration }),
      );
      results.balances = await step('balances', () => balancesBench({ canopy, db, posting, duration }));
      results.batch = await step('batches', () => batchBench({ canopy, db, posting, duration }));
      results.events = await step('events', () => require('./events').eventsBench({ canopy, db, posting, duration }));
    }
    await step('rates', () => ratesBench({ canopy, duration }));
    results.calls = await step('calls', () => callsBench({ canopy, db, duration, limit: results.balances?.limit }));
    results.usage = await step('usage report', () => usageBench({ canopy, databaseUrl: db.url }));
    results.cards = await step('cards (10,000 prepaid accounts in one request)', () => require('./cards').cardsBench({ canopy }));
    results.webhooks = await step('webhooks delivery of 10,000 events', () => require('./webhooks').webhooksBench({ db }));
    if (posting) results.soak = await step('soak', () => soakBench({ canopy, posting, tree: results.tree, seconds: soakSeconds }));
  } finally {
    await canopy.stop();
    await db.stop();
  }
  if (only) {
    summary(results);
    return;
  }
  try {
    await startupBench();
  } catch (error) {
    process.stdout.write(`\n**start-up failed:** ${error.message}\n`);
  }
  summary(results);
  process.stdout.write(`\n- load average at end: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}\n`);
  // The hand-written history (what each change bought) is kept below the figures of this run.
  const file = path.join(__dirname, 'RESULTS.md');
  const previous = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const history = previous.indexOf(HISTORY_HEADING);
  writeFileSync(file, report + (history >= 0 ? `\n${previous.slice(history)}` : ''));
  write('\nwrote bench/RESULTS.md\n');
}

main().catch((error) => {
  process.stderr.write(`${error.stack ?? error}\n`);
  process.exit(1);
});
