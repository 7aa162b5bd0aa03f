'use strict';
/**
 * `npm run bench`: builds, starts one PostgreSQL and one Canopy, runs every benchmark,
 * prints its figures and writes them to bench/RESULTS.md (the machine, the figures of this
 * run, and the ratios to the baselines measured in the same run: bare Fastify, pgbench).
 * Never part of `npm test`; nothing is asserted.
 * BENCH_DURATION (seconds per scenario, default 10) shortens or lengthens the run.
 */
const { existsSync, readFileSync, writeFileSync } = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { Client } = require('pg');
const { startDatabase, startCanopy } = require('./lib');
const { httpBaseline } = require('./http-baseline');
const { balancesBench } = require('./balances');
const { ratesBench } = require('./rates');
const { treeBench } = require('./tree');
const { startupBench } = require('./startup');

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

async function main() {
  const duration = Number(process.env.BENCH_DURATION ?? 10);
  const db = await startDatabase();
  process.stdout.write(
    `# Canopy benchmarks\n\n` +
      `- run: ${new Date().toISOString()}, ${duration} s per scenario\n` +
      `- machine: ${os.cpus().length} × ${os.cpus()[0]?.model}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.type()} ${os.release()}\n` +
      `- Node ${process.version}, PostgreSQL ${await serverVersion(db.url)} (${process.env.DATABASE_URL ? 'DATABASE_URL' : 'embedded'})\n` +
      `- load average at start: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} (figures from a loaded machine are lower)\n`,
  );
  const canopy = await startCanopy(db.url);
  try {
    // One failing benchmark is reported and the others still run.
    const step = async (name, fn) => {
      try {
        await fn();
      } catch (error) {
        process.stdout.write(`\n**${name} failed:** ${error.message}${error.cause ? ` (${error.cause.code ?? error.cause})` : ''}\n`);
      }
    };
    await step('HTTP baseline', () => httpBaseline({ canopy, duration }));
    // The tree benchmark seeds 100k customers and wants a database holding only the root.
    await step('tree', () => treeBench({ canopy, databaseUrl: db.url, duration }));
    await step('balances', () => balancesBench({ canopy, db, duration }));
    await step('rates', () => ratesBench({ canopy, duration }));
  } finally {
    await canopy.stop();
    await db.stop();
  }
  try {
    await startupBench();
  } catch (error) {
    process.stdout.write(`\n**start-up failed:** ${error.message}\n`);
  }
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
