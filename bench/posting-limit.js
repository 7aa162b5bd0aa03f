'use strict';
/**
 * The measuring stick for postings: the physical limit of one posting on this PostgreSQL.
 * The same four writes one balance operation makes — claim the idempotency key, update the
 * balance under the credit check, append the ledger entry, append the audit event — as raw
 * SQL in one transaction through pgbench, on a scratch database of the same server, spread
 * over 1,000 holders and on one hot holder, at 16 and 64 clients. Nothing of Canopy runs in
 * it: it is what the database alone does for that transaction on this machine.
 *
 * Also the floor for batches (`batchLimit`): the same four writes for 1,000 operations over
 * the same 1,000 holders in one transaction, as sets (one key claimed, the holders locked in
 * id order, their balances updated once each, 1,000 ledger entries with their balances after,
 * 1,000 audit events), at the batch benchmark's clients. Concurrent batches touch mostly the
 * same holders, so they wait for each other here as in Canopy.
 */
const { execFileSync, spawnSync } = require('node:child_process');
const { mkdtempSync, writeFileSync, rmSync } = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { Client } = require('pg');

const SCHEMA = `
CREATE TABLE customers (id bigint PRIMARY KEY, balance numeric(38,8) NOT NULL DEFAULT 0,
  credit_limit numeric(38,8) NOT NULL DEFAULT 1000000000, version int NOT NULL DEFAULT 0);
INSERT INTO customers (id) SELECT g FROM generate_series(1, 1000) g;
CREATE TABLE idem (caller bigint, key uuid, body_hash text, status int, response jsonb,
  created_at timestamptz DEFAULT now(), PRIMARY KEY (caller, key));
CREATE TABLE ledger (id bigserial PRIMARY KEY, customer_id bigint NOT NULL, action text,
  amount numeric(38,8), currency varchar(3), rate numeric(38,12), converted numeric(38,8),
  balance_after numeric(38,8), notes text, actor bigint, idem_key uuid,
  created_at timestamptz DEFAULT now());
CREATE INDEX ON ledger (customer_id, id DESC);
CREATE TABLE audit (id bigserial PRIMARY KEY, at timestamptz DEFAULT now(), actor bigint,
  action text, target_type text, target_id bigint, changes jsonb, request_id uuid);
ANALYZE;
`;

/** One posting as pgbench runs it; `holders` = how many customers the postings pick from. */
const script = (holders) => `\\set cid random(1, ${holders})
BEGIN;
INSERT INTO idem (caller, key, body_hash, status) VALUES (1, gen_random_uuid(), 'h', 0);
UPDATE customers SET balance = balance - 1.25, version = version + 1 WHERE id = :cid AND balance - 1.25 >= -credit_limit RETURNING balance;
INSERT INTO ledger (customer_id, action, amount, currency, rate, converted, balance_after, notes, actor, idem_key)
  VALUES (:cid, 'debit', 1.25, 'USD', 1, -1.25, 0, 'n', 1, gen_random_uuid());
INSERT INTO audit (actor, action, target_type, target_id, changes, request_id)
  VALUES (1, 'balance.debit', 'customer', :cid, '{"amount":"1.25"}', gen_random_uuid());
END;
`;

/** 1,000 operations (half add_funds, half debits of 1.25) over holders 1…1000 in one transaction. */
const BATCH_SCRIPT = `BEGIN;
INSERT INTO idem (caller, key, body_hash, status) VALUES (1, gen_random_uuid(), 'h', 0);
WITH ops AS MATERIALIZED (
  SELECT g AS ord, 1 + floor(random() * 1000)::int AS cid, CASE WHEN random() < 0.5 THEN 1.25 ELSE -1.25 END AS delta
    FROM generate_series(1, 1000) g),
lk AS MATERIALIZED (SELECT c.id FROM customers c WHERE c.id IN (SELECT cid FROM ops) ORDER BY c.id FOR UPDATE),
t AS (SELECT cid, sum(delta) AS total, count(*) AS n, min(least(delta, 0)) AS low FROM ops GROUP BY cid),
u AS (
  UPDATE customers c SET balance = c.balance + t.total, version = c.version + t.n
    FROM t JOIN lk ON lk.id = t.cid
   WHERE c.id = t.cid AND c.balance + t.low >= -c.credit_limit
  RETURNING c.id, c.balance - t.total AS before),
l AS (
  INSERT INTO ledger (customer_id, action, amount, currency, rate, converted, balance_after, notes, actor, idem_key)
  SELECT ops.cid, CASE WHEN ops.delta > 0 THEN 'add_funds' ELSE 'debit' END, abs(ops.delta), 'USD', 1, ops.delta,
         u.before + sum(ops.delta) OVER (PARTITION BY ops.cid ORDER BY ops.ord), 'n', 1, NULL
    FROM ops JOIN u ON u.id = ops.cid
  RETURNING id, customer_id, action)
INSERT INTO audit (actor, action, target_type, target_id, changes, request_id)
SELECT 1, 'balance.' || action, 'customer', customer_id, '{"amount":"1.25"}', gen_random_uuid() FROM l;
END;
`;

/** pgbench on PATH, or Debian's postgresql-client installed for it (as root); undefined when neither. */
function findPgbench() {
  if (spawnSync('pgbench', ['--version']).status === 0) return 'pgbench';
  for (const dir of ['/usr/lib/postgresql/17/bin', '/usr/lib/postgresql/16/bin', '/usr/lib/postgresql/15/bin']) {
    const candidate = path.join(dir, 'pgbench');
    if (spawnSync(candidate, ['--version']).status === 0) return candidate;
  }
  if (process.getuid?.() !== 0) return undefined;
  process.stdout.write('pgbench missing: installing Debian postgresql-client\n');
  const apt = (args) => spawnSync('apt-get', args, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  apt(['update', '-q']);
  apt(['install', '-y', '-q', 'postgresql-client']);
  return spawnSync('pgbench', ['--version']).status === 0 ? 'pgbench' : undefined;
}

function libpqEnv(url, extra = {}) {
  const u = new URL(url);
  return {
    ...process.env,
    PGHOST: u.hostname,
    PGPORT: u.port || '5432',
    PGUSER: decodeURIComponent(u.username),
    PGPASSWORD: decodeURIComponent(u.password),
    PGDATABASE: decodeURIComponent(u.pathname.slice(1)),
    ...extra,
  };
}

/**
 * A scratch place for the stick's tables: a database of its own on the same server, or,
 * where this role may not create databases, a schema in the benchmark's database.
 */
async function scratch(databaseUrl, prefix = 'canopy_posting_limit') {
  const name = `${prefix}_${process.pid}`;
  const admin = new Client({ connectionString: databaseUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
    const url = new URL(databaseUrl);
    url.pathname = `/${name}`;
    return {
      url: url.toString(),
      env: {},
      where: `database ${name}`,
      drop: async () => {
        const c = new Client({ connectionString: databaseUrl });
        await c.connect();
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        await c.end();
      },
    };
  } catch {
    await admin.query(`DROP SCHEMA IF EXISTS ${name} CASCADE`);
    await admin.query(`CREATE SCHEMA ${name}`);
    return {
      url: databaseUrl,
      env: { PGOPTIONS: `-c search_path=${name}` },
      where: `schema ${name} (this role may not create databases)`,
      drop: async () => {
        const c = new Client({ connectionString: databaseUrl });
        await c.connect();
        await c.query(`DROP SCHEMA IF EXISTS ${name} CASCADE`);
        await c.end();
      },
    };
  } finally {
    await admin.end();
  }
}

/**
 * Runs pgbench scripts against a scratch database of the same server: `schema` is created
 * first, then each script (name → text) for `seconds` at each client count, one after the
 * other. { [name]: { [clients]: tps }, where, seconds }, or undefined (with a printed note)
 * without pgbench.
 */
async function runPgbench({ databaseUrl, prefix, schema, scripts, clients, duration }) {
  const pgbench = findPgbench();
  if (!pgbench) {
    process.stdout.write('\npgbench unavailable (Debian: apt-get install postgresql-client): a raw-SQL limit is skipped\n');
    return undefined;
  }
  const place = await scratch(databaseUrl, prefix);
  const dir = mkdtempSync(path.join(os.tmpdir(), `${prefix}-`));
  try {
    const setup = new Client({ connectionString: place.url, options: place.env.PGOPTIONS });
    await setup.connect();
    await setup.query(schema);
    await setup.end();
    const env = libpqEnv(place.url, place.env);
    // At least 10 s: under load, opening 64 connections alone can take seconds of the run.
    const seconds = Math.max(duration, 10);
    const result = { where: place.where, seconds };
    for (const c of clients) {
      for (const [name, text] of Object.entries(scripts)) {
        const file = path.join(dir, `${name}.sql`);
        writeFileSync(file, text);
        const out = execFileSync(pgbench, ['-n', '-c', String(c), '-j', String(Math.min(c, 2)), '-T', String(seconds), '-M', 'prepared', '-f', file], {
          env,
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        result[name] = { ...result[name], [c]: Number(/tps = ([\d.]+)/.exec(out)?.[1] ?? NaN) };
      }
    }
    return result;
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await place.drop().catch(() => undefined);
  }
}

/**
 * Runs the stick: { spread: {16: tps, 64: tps}, hot: {...} }, or undefined (with a printed
 * note) without pgbench. `clients` defaults to [16, 64].
 */
async function postingLimit({ databaseUrl, duration = 10, clients = [16, 64] }) {
  return runPgbench({ databaseUrl, prefix: 'canopy_posting_limit', schema: SCHEMA, scripts: { spread: script(1000), hot: script(1) }, clients, duration });
}

/** Postings/s through 1,000-operation transactions at `clients` (default 4, as the batch benchmark), or undefined without pgbench. */
async function batchLimit({ databaseUrl, duration = 10, clients = 4 }) {
  const result = await runPgbench({ databaseUrl, prefix: 'canopy_batch_limit', schema: SCHEMA, scripts: { batch: BATCH_SCRIPT }, clients: [clients], duration });
  return result && { postingsPerSecond: Math.round(result.batch[clients] * 1000), where: result.where, seconds: result.seconds };
}

module.exports = { postingLimit, batchLimit, runPgbench };
