'use strict';
/**
 * Figure 4 of issue 12: postings per second through 1,000-operation batches
 * (`POST /v1/balance-operations/batch {operations: [{customerId, action, amount}, ...]}`, all
 * or nothing under one Idempotency-Key), to compare with the single-posting raw-SQL limit, and
 * with the raw-SQL floor of the same batches (bench/posting-limit.js `batchLimit`: the four
 * writes of 1,000 operations as sets in one transaction, same clients, same run). Skipped with a note where the endpoint does not exist (404).
 */
const { randomUUID } = require('node:crypto');
const os = require('node:os');
const { run, summarize, printTable, cpuMs, clusterCpuMs, postmasterPid } = require('./lib');
const { batchLimit } = require('./posting-limit');

const BATCH_SIZE = 1000;

function batchBody(customerIds) {
  const operations = [];
  for (let i = 0; i < BATCH_SIZE; i++) {
    operations.push({
      customerId: customerIds[Math.floor(Math.random() * customerIds.length)],
      action: Math.random() < 0.5 ? 'add_funds' : 'debit',
      amount: '1.25',
    });
  }
  return JSON.stringify({ operations });
}

async function batchBench({ canopy, db, posting, duration = 10, connections = 4 }) {
  const { token, customerIds } = posting;
  const headers = (key) => ({ 'content-type': 'application/json', authorization: `Bearer ${token}`, 'idempotency-key': key });
  const probe = await fetch(`${canopy.url}/v1/balance-operations/batch`, {
    method: 'POST',
    headers: headers(randomUUID()),
    body: JSON.stringify({ operations: [{ customerId: customerIds[0], action: 'add_funds', amount: '1.25' }] }),
  });
  const probeText = await probe.text();
  if (probe.status === 404) {
    process.stdout.write(`\n## Batches\n\nPOST /v1/balance-operations/batch answers 404 on this build: the batch figure is skipped.\n`);
    return undefined;
  }
  if (probe.status !== 201) throw new Error(`batch probe: ${probe.status} ${probeText.slice(0, 300)}`);
  // Bodies are built before the run so that the client's own work does not count.
  const bodies = Array.from({ length: 64 }, () => batchBody(customerIds));
  let next = 0;
  const batches = {
    method: 'POST',
    path: '/v1/balance-operations/batch',
    setupRequest: (req) => ({ ...req, headers: headers(randomUUID()), body: bodies[next++ % bodies.length] }),
  };
  // A warm-up, not counted, as for single postings (bench/balances.js): the batch path's first
  // seconds in the process (its code not yet optimized by V8; its statement prepared, and planned
  // for its values five times, on each pooled connection before PostgreSQL keeps a generic plan)
  // ran at 50-63 ms of Canopy CPU per batch against 31-39 ms after (sixteenth session).
  const warmUp = Math.min(3, duration);
  await run({ url: canopy.url, connections, duration: warmUp, timeout: 60, requests: [batches] });
  // CPU of Canopy and of the whole PostgreSQL server (backends, relay, WAL writer, …) over the run.
  const postmaster = db ? await postmasterPid(db.url).catch(() => undefined) : undefined;
  const c0 = cpuMs(canopy.pid);
  const p0 = postmaster ? clusterCpuMs(postmaster) : NaN;
  const result = await run({
    url: canopy.url,
    connections,
    duration,
    timeout: 60,
    requests: [batches],
  });
  const canopyMs = cpuMs(canopy.pid) - c0;
  const pgMs = postmaster ? clusterCpuMs(postmaster) - p0 : NaN;
  const row = summarize(`batches of ${BATCH_SIZE} operations, ${connections} clients`, result);
  const batchesPerSecond = result['2xx'] / duration;
  const postingsPerSecond = Math.round(batchesPerSecond * BATCH_SIZE);
  printTable(`Batches (${duration}s, after ${warmUp} s not counted)`, [row]);
  const perBatch = (ms) => (Number.isFinite(ms) && result['2xx'] ? `${(ms / result['2xx']).toFixed(0)} ms` : 'n/a');
  process.stdout.write(
    `\n${result['2xx']} batches applied: ${postingsPerSecond} postings/s; CPU per batch applied: Canopy ${perBatch(canopyMs)}, ` +
      `PostgreSQL ${perBatch(pgMs)} (the relay's events included; ${os.cpus().length} cores)\n`,
  );
  const floor = db && (await batchLimit({ databaseUrl: db.url, duration, clients: connections }));
  if (floor) {
    process.stdout.write(
      `The raw-SQL floor of the same batches (bench/posting-limit.js: one key, the holders locked in id order and updated once each, ` +
        `1,000 ledger entries and audit events a transaction, ${connections} clients, ${floor.seconds} s, in ${floor.where}): ` +
        `${floor.postingsPerSecond} postings/s; Canopy / floor: ${(postingsPerSecond / floor.postingsPerSecond).toFixed(2)}\n`,
    );
  }
  return { row, postingsPerSecond, floor: floor?.postingsPerSecond };
}

module.exports = { batchBench };
