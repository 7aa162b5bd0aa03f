'use strict';
/**
 * `npm run bench`: builds, starts one PostgreSQL and one Canopy, runs every benchmark and
 * prints its figures. Never part of `npm test`; nothing is asserted.
 * BENCH_DURATION (seconds per scenario, default 10) shortens or lengthens the run.
 */
const os = require('node:os');
const { startDatabase, startCanopy } = require('./lib');
const { httpBaseline } = require('./http-baseline');
const { balancesBench } = require('./balances');
const { ratesBench } = require('./rates');
const { treeBench } = require('./tree');

async function main() {
  const duration = Number(process.env.BENCH_DURATION ?? 10);
  process.stdout.write(`# Canopy benchmarks\n\nmachine: ${os.cpus().length} × ${os.cpus()[0]?.model}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}\n`);
  const db = await startDatabase();
  const canopy = await startCanopy(db.url);
  try {
    await httpBaseline({ canopy, duration });
    // The tree benchmark seeds 100k customers and wants a database holding only the root.
    await treeBench({ canopy, databaseUrl: db.url, duration });
    await balancesBench({ canopy, db, duration });
    await ratesBench({ canopy, duration });
  } finally {
    await canopy.stop();
    await db.stop();
  }
}

main().catch((error) => {
  process.stderr.write(`${error.stack ?? error}\n`);
  process.exit(1);
});
