'use strict';
/**
 * `npm run chaos`: two Canopy instances on one PostgreSQL, concurrent balance operations
 * against both, SIGKILLs and restarts mid-load, then the ledger checked against every answer
 * the clients got. Prints a summary; exits non-zero on any violated invariant.
 *
 *   CHAOS_DURATION_SECONDS  how long the load runs (default 30)
 *   CHAOS_KILLS             how many SIGKILLs, alternating between the instances (default 3)
 *   CHAOS_CLIENTS           concurrent clients (default 12)
 *   CHAOS_CUSTOMERS         customers under root (default 20)
 *   DATABASE_URL            use this (empty) database instead of an embedded PostgreSQL
 */
const { runChaos, formatReport, startDatabase, assertBuilt } = require('./chaos-lib');

function intFromEnv(name, fallback, min, max) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    process.stderr.write(`${name} must be an integer from ${min} to ${max}\n`);
    process.exit(2);
  }
  return value;
}

async function main() {
  assertBuilt();
  const durationSeconds = intFromEnv('CHAOS_DURATION_SECONDS', 30, 1, 3600); // tokens last 2 h
  const kills = intFromEnv('CHAOS_KILLS', 3, 0, 100);
  const clients = intFromEnv('CHAOS_CLIENTS', 12, 1, 200);
  const customers = intFromEnv('CHAOS_CUSTOMERS', 20, 1, 1000);
  const log = (m) => process.stdout.write(`chaos: ${m}\n`);
  const db = await startDatabase();
  log(`PostgreSQL at ${new URL(db.url).host}`);
  let result;
  try {
    result = await runChaos(db.url, { durationMs: durationSeconds * 1000, kills, clients, customers, log });
  } finally {
    await db.stop();
  }
  process.stdout.write(formatReport(result) + '\n');
  process.exitCode = result.ok ? 0 : 1;
}

main().catch((error) => {
  process.stderr.write(`chaos failed: ${error && error.stack ? error.stack : String(error)}\n`);
  process.exit(1);
});
