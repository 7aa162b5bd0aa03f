'use strict';
/**
 * Crash safety under several instances, shared by `npm run chaos` (scripts/chaos.js) and the
 * CI short form (test/chaos.e2e-spec.ts). Plain CommonJS on the built service (dist/), so it
 * runs under `node` and under jest alike.
 *
 * Two Canopy processes on one PostgreSQL; clients post balance operations to both, each with
 * its own Idempotency-Key, and retry the same request (same key, either instance) on network
 * errors, 5xx and 409 until a definitive 2xx or 422. Meanwhile instances are SIGKILLed and
 * restarted. Afterwards the database is checked against what the clients were told.
 */
const { spawn } = require('node:child_process');
const { createWriteStream, existsSync } = require('node:fs');
const { randomBytes } = require('node:crypto');
const path = require('node:path');
const Big = require('big.js');
const { Client } = require('pg');
const { freePort, startDatabase } = require('../bench/lib.js');

const ROOT = path.resolve(__dirname, '..');
const MAIN = path.join(ROOT, 'dist/src/main.js');
const ROOT_LOGIN = 'root';
const ROOT_PASSWORD = 'chaos-root-password';
const LOG_TAIL = 40;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const pick = (items) => items[Math.floor(Math.random() * items.length)];
const randomInt = (min, max) => min + Math.floor(Math.random() * (max - min + 1));

function assertBuilt() {
  if (!existsSync(MAIN)) {
    throw new Error(`${path.relative(ROOT, MAIN)} is missing: build the service first (\`npm run build\`; \`npm test\` does it in pretest).`);
  }
}

/** One Canopy process that can be killed and started again (on the same port by default). */
class Instance {
  constructor(name, databaseUrl, env = {}) {
    this.name = name;
    this.databaseUrl = databaseUrl;
    this.env = env;
    this.port = undefined;
    this.child = undefined;
    this.up = false;
    this.starts = 0;
    this.logTail = [];
    this.errorLines = 0;
  }

  get url() {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(options = {}) {
    assertBuilt();
    if (!this.port || options.newPort) this.port = await freePort();
    for (let attempt = 1; ; attempt++) {
      try {
        await this.spawnAndWait(options.timeoutMs ?? 60000);
        this.starts++;
        this.up = true;
        return this;
      } catch (error) {
        // The old port may be taken in the meantime: clients cope with a new one.
        if (attempt >= 3) throw error;
        this.port = await freePort();
      }
    }
  }

  spawnAndWait(timeoutMs) {
    const child = spawn(process.execPath, [MAIN], {
      env: {
        ...process.env,
        NODE_ENV: 'production',
        DATABASE_URL: this.databaseUrl,
        PORT: String(this.port),
        HOST: '127.0.0.1',
        LOG_LEVEL: 'warn',
        ROOT_LOGIN,
        ROOT_PASSWORD,
        // Unset: the secret generated once and kept in the database must be shared by
        // every instance and survive restarts (tokens from one are valid on the other).
        JWT_SECRET: '',
        PASSWORD_HASH_MEMORY_KIB: '1024',
        PASSWORD_HASH_ITERATIONS: '1',
        DB_POOL_SIZE: '10',
        // Longer than any run: a 401 is then a finding (say, a secret not shared), not expiry.
        ACCESS_TOKEN_TTL_SECONDS: '7200',
        ...this.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    if (process.env.CHAOS_LOG_DIR) {
      const file = createWriteStream(path.join(process.env.CHAOS_LOG_DIR, `${this.name}.log`), { flags: 'a' });
      child.stdout.pipe(file);
      child.stderr.pipe(file);
    }
    const keep = (chunk) => {
      for (const line of String(chunk).split('\n')) {
        if (!line.trim()) continue;
        if (/"level":(50|60)/.test(line)) this.errorLines++;
        this.logTail.push(`[${this.name}] ${line.slice(0, 500)}`);
        if (this.logTail.length > LOG_TAIL) this.logTail.shift();
      }
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    this.exited = exited;
    exited.then(() => {
      if (this.child === child) this.up = false;
    });
    return new Promise((resolve, reject) => {
      let done = false;
      const started = Date.now();
      exited.then(({ code, signal }) => {
        if (done) return;
        done = true;
        reject(new Error(`${this.name} exited during start-up (code ${code}, signal ${signal}):\n${this.logTail.join('\n')}`));
      });
      const poll = async () => {
        while (!done) {
          try {
            const res = await fetch(`${this.url}/health/ready`, { signal: AbortSignal.timeout(2000) });
            if (res.ok) {
              done = true;
              return resolve();
            }
          } catch {
            /* not up yet */
          }
          if (Date.now() - started > timeoutMs) {
            done = true;
            child.kill('SIGKILL');
            return reject(new Error(`${this.name} not ready after ${timeoutMs} ms`));
          }
          await sleep(100);
        }
      };
      void poll();
    });
  }

  /** SIGKILL: no shutdown hook runs; in-flight requests and transactions are cut off. */
  async kill() {
    if (!this.child || this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.up = false;
    this.child.kill('SIGKILL');
    await this.exited;
  }

  /** SIGTERM: the graceful shutdown (SIGKILL after timeoutMs). Resolves to how it ended. */
  async stop(timeoutMs = 15000) {
    if (!this.child || this.child.exitCode !== null || this.child.signalCode !== null) return undefined;
    this.up = false;
    const started = Date.now();
    this.child.kill('SIGTERM');
    let timer;
    const outcome = await Promise.race([this.exited, new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs, 'timeout')))]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      await this.kill();
      return { code: null, signal: 'SIGKILL', ms: Date.now() - started, timedOut: true };
    }
    return { ...outcome, ms: Date.now() - started, timedOut: false };
  }
}

/** Starts several instances on one database at once (migrations and root bootstrap race). */
async function startInstances(databaseUrl, count = 2, env = {}) {
  const instances = Array.from({ length: count }, (_, i) => new Instance(String.fromCharCode(65 + i), databaseUrl, env));
  const results = await Promise.allSettled(instances.map((instance) => instance.start()));
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) {
    await Promise.all(instances.map((instance) => instance.kill()));
    throw failed.reason;
  }
  return instances;
}

/** A JSON request that never throws on HTTP status; network errors and timeouts do throw. */
async function request(baseUrl, method, urlPath, { body, headers = {}, timeoutMs = 10000 } = {}) {
  const res = await fetch(baseUrl + urlPath, {
    method,
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  let parsed;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = text;
  }
  return { status: res.status, headers: Object.fromEntries(res.headers.entries()), body: parsed };
}

async function loginRoot(instance) {
  const res = await request(instance.url, 'POST', '/v1/auth/login', { body: { login: ROOT_LOGIN, password: ROOT_PASSWORD } });
  if (res.status !== 200) throw new Error(`root login failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.accessToken;
}

/** root → `count` customers with assorted opening balances and credit limits. */
async function seedTree(instance, token, count = 20) {
  const auth = { authorization: `Bearer ${token}` };
  const tag = randomBytes(3).toString('hex');
  const tariff = await request(instance.url, 'POST', '/v1/tariffs', { body: { name: `chaos-${tag}`, currency: 'USD' }, headers: auth });
  if (tariff.status !== 201) throw new Error(`tariff: ${tariff.status} ${JSON.stringify(tariff.body)}`);
  const customers = [];
  for (let i = 0; i < count; i++) {
    const balance = `${randomInt(0, 40)}.00`;
    const creditLimit = pick(['0', '5', '20', '50']);
    const res = await request(instance.url, 'POST', '/v1/customers', {
      headers: auth,
      body: { name: `chaos ${tag} ${i}`, tariffId: tariff.body.id, webLogin: `chaos-${tag}-${i}`, webPassword: 'chaos-password-1', balance, creditLimit },
    });
    if (res.status !== 201) throw new Error(`customer: ${res.status} ${JSON.stringify(res.body)}`);
    customers.push({ id: res.body.id, balance, creditLimit });
  }
  return customers;
}

/** A random operation: mostly debits, some large enough to be refused, a few overdrafts. */
function randomOperation() {
  const roll = Math.random();
  if (roll < 0.2) return { action: 'add_funds', amount: `${randomInt(1, 20)}.${randomInt(0, 99).toString().padStart(2, '0')}` };
  if (roll < 0.3) return { action: 'credit', amount: `${randomInt(1, 5)}.50` };
  const body = { action: 'debit', amount: `${randomInt(1, 15)}.${randomInt(0, 99).toString().padStart(2, '0')}` };
  if (roll > 0.97) body.allowOverdraft = true;
  return body;
}

function newStats() {
  return {
    operations: 0,
    batches: 0,
    batchesAcknowledged: 0,
    acknowledged: 0,
    refused: 0,
    attempts: 0,
    retries: 0,
    networkErrors: 0,
    connectionRefused: 0,
    abandoned: 0,
    cut: 0,
    conflicts: 0,
    serverErrors: 0,
    unexpected: 0,
    unresolved: 0,
    kills: 0,
    restarts: 0,
    replays: 0,
    replaysAfterRetry: 0,
    replaysAfterCut: 0,
    echoes: 0,
  };
}

/** connectionRefused: nobody listening (instance down); abandoned: the client timed out; cut: the connection died mid-request (a kill). */
function networkErrorKind(error) {
  const cause = error && error.cause;
  const code = (cause && cause.code) || (error && error.name);
  if (code === 'ECONNREFUSED') return 'connectionRefused';
  if (code === 'TimeoutError' || code === 'AbortError' || (cause && cause.name === 'TimeoutError')) return 'abandoned';
  return 'cut';
}

/** The request of an operation: one balance operation on its customer, or a batch (`op.batch`: its operations). */
function requestOf(op) {
  return op.batch
    ? { path: '/v1/balance-operations/batch', body: { operations: op.batch } }
    : { path: `/v1/customers/${op.customerId}/balance-operations`, body: op.body };
}

/**
 * Sends one request until it has a definitive answer (2xx or 422), retrying the same key
 * and body on network errors, 5xx and 409 against any instance. Returns the attempts' log.
 */
async function sendUntilDefinitive(ctx, op) {
  const started = Date.now();
  const log = [];
  for (let attempt = 1; ; attempt++) {
    const instance = pick(ctx.instances);
    ctx.stats.attempts++;
    if (attempt > 1) ctx.stats.retries++;
    // Now and then the client gives up on an attempt almost at once, as if the answer were
    // lost on the way back: the server carries on and commits, and the retry must replay.
    const impatient = Math.random() < ctx.lostAnswerRate;
    let res;
    try {
      const { path: urlPath, body } = requestOf(op);
      res = await request(instance.url, 'POST', urlPath, {
        body,
        headers: { authorization: `Bearer ${ctx.token}`, 'idempotency-key': op.key },
        timeoutMs: impatient ? randomInt(2, 40) : ctx.requestTimeoutMs,
      });
    } catch (error) {
      ctx.stats.networkErrors++;
      const kind = networkErrorKind(error);
      ctx.stats[kind]++;
      log.push({ instance: instance.name, error: kind });
      res = undefined;
    }
    if (res) {
      const replayed = res.headers['idempotent-replayed'] === 'true';
      log.push({ instance: instance.name, status: res.status, replayed });
      if (replayed) ctx.stats.replays++;
      if ((res.status >= 200 && res.status < 300) || res.status === 422) {
        return { final: { status: res.status, body: res.body, replayed, attempt }, log };
      }
      if (res.status === 409) ctx.stats.conflicts++;
      else if (res.status >= 500) {
        ctx.stats.serverErrors++;
        ctx.serverErrorBodies.push(res.body);
      } else {
        ctx.stats.unexpected++;
        return { final: { status: res.status, body: res.body, replayed, attempt }, log };
      }
    }
    if (Date.now() - started > ctx.operationTimeoutMs) return { final: undefined, log };
    await sleep(Math.min(500, 20 * 2 ** Math.min(attempt, 5)) * (0.5 + Math.random()));
  }
}

async function client(ctx, clientIndex) {
  let n = 0;
  while (!ctx.stopping) {
    const key = `${ctx.runId}-${clientIndex}-${n++}`;
    // Now and then a batch of a few operations on any customers, all or none under one key.
    const op =
      Math.random() < ctx.batchRate
        ? { key, batch: Array.from({ length: randomInt(2, 8) }, () => ({ customerId: pick(ctx.customers).id, ...randomOperation() })), echoes: [] }
        : { key, customerId: pick(ctx.customers).id, body: randomOperation(), echoes: [] };
    ctx.ops.push(op);
    ctx.stats.operations++;
    if (op.batch) ctx.stats.batches++;
    const { final, log } = await sendUntilDefinitive(ctx, op);
    op.log = log;
    op.final = final;
    if (!final) {
      ctx.stats.unresolved++;
      continue;
    }
    if (final.status >= 200 && final.status < 300) ctx.stats.acknowledged++;
    if (op.batch && final.status >= 200 && final.status < 300) ctx.stats.batchesAcknowledged++;
    else if (final.status === 422) ctx.stats.refused++;
    if (final.replayed && final.attempt > 1) {
      ctx.stats.replaysAfterRetry++;
      if (log.some((l) => l.error === 'cut')) ctx.stats.replaysAfterCut++;
    }
    // Now and then a client repeats an answered request (as a billing system that lost
    // track would): it must get the same answer back, marked as replayed.
    if (Math.random() < ctx.echoRate) await echo(ctx, op);
  }
}

async function echo(ctx, op) {
  const { final } = await sendUntilDefinitive(ctx, op);
  ctx.stats.echoes++;
  op.echoes.push(final ?? { status: 0, body: undefined, replayed: false });
}

/** Kills instances (alternately, never both at once) spread over the load, and restarts them. */
async function chaosMonkey(ctx, kills, durationMs) {
  const started = Date.now();
  for (let i = 0; i < kills; i++) {
    const at = started + ((i + 1) * durationMs) / (kills + 1) + (Math.random() - 0.5) * (durationMs / (kills + 1)) * 0.3;
    if (at > Date.now()) await sleep(at - Date.now());
    const victim = ctx.instances[i % ctx.instances.length];
    await victim.kill();
    ctx.stats.kills++;
    ctx.events.push(`${((Date.now() - started) / 1000).toFixed(1)}s SIGKILL ${victim.name}`);
    await sleep(randomInt(100, 600));
    await victim.start();
    ctx.stats.restarts++;
    ctx.events.push(`${((Date.now() - started) / 1000).toFixed(1)}s ${victim.name} ready again on port ${victim.port}`);
  }
}

/** Deep equality that ignores the order of object keys (jsonb does not keep it). */
function sameJson(a, b) {
  const canonical = (v) =>
    Array.isArray(v)
      ? v.map(canonical)
      : v && typeof v === 'object'
        ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical(v[k])]))
        : v;
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

/** Compares the database with what the clients were told. Returns [{name, ok, failures}]. */
async function checkInvariants(databaseUrl, ctx) {
  const db = new Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    const ids = ctx.customers.map((c) => c.id);
    const customers = (await db.query(`SELECT c.id, b.balance::text AS balance, c.credit_limit::text AS credit_limit FROM customers c JOIN customer_balances b ON b.customer_id = c.id WHERE c.id = ANY($1)`, [ids])).rows;
    const ledger = (
      await db.query(
        `SELECT id, customer_id, action, amount::text AS amount, converted_amount::text AS converted_amount,
                balance_after::text AS balance_after, idempotency_key, seq::text AS seq
           FROM ledger_entries e WHERE customer_id = ANY($1) ORDER BY e.customer_id, e.seq`,
        [ids],
      )
    ).rows;
    const keys = (
      await db.query(`SELECT key, status, response_body, ledger_entry_id FROM idempotency_keys WHERE key LIKE $1`, [`${ctx.runId}-%`])
    ).rows;
    const audits = (
      await db.query(
        `SELECT target_id, count(*)::int AS n FROM audit_events WHERE target_type = 'balance-operation' AND target_id = ANY($1) GROUP BY target_id`,
        [ledger.map((e) => e.id)],
      )
    ).rows;

    const opsByKey = new Map(ctx.ops.map((op) => [op.key, op]));
    const entriesByKey = new Map();
    for (const e of ledger) {
      if (!e.idempotency_key) continue;
      if (!entriesByKey.has(e.idempotency_key)) entriesByKey.set(e.idempotency_key, []);
      entriesByKey.get(e.idempotency_key).push(e);
    }
    const storedByKey = new Map(keys.map((k) => [k.key, k]));
    const checks = [];
    const check = (name, fn) => {
      const failures = [];
      fn((message) => failures.push(message));
      checks.push({ name, ok: failures.length === 0, failures });
    };
    const answered = ctx.ops.filter((op) => op.final);
    const acknowledged = answered.filter((op) => op.final.status >= 200 && op.final.status < 300);
    const refused = answered.filter((op) => op.final.status === 422);

    check('every operation got a definitive answer (2xx or 422), no 5xx, no other status', (fail) => {
      for (const op of ctx.ops) {
        if (!op.final) fail(`${op.key}: no definitive answer (${JSON.stringify(op.log.slice(-3))})`);
        else if (!(op.final.status === 201 || op.final.status === 422)) fail(`${op.key}: ${op.final.status} ${JSON.stringify(op.final.body)}`);
      }
      if (ctx.stats.serverErrors) fail(`${ctx.stats.serverErrors} 5xx answers, e.g. ${JSON.stringify(ctx.serverErrorBodies[0])}`);
    });
    // Each operation of a batch, as one: its key, customer, body and answer (an item of the batch's).
    const single = (op) =>
      op.batch
        ? op.batch.map(({ customerId, ...body }, i) => {
            const answer = ((op.final.body && op.final.body.items) || [])[i] || {};
            return { key: `${op.key} /operations/${i}`, customerId, body, entryId: answer.id || `(none answered for ${op.key} /operations/${i})`, answer };
          })
        : [{ key: op.key, customerId: op.customerId, body: op.body, entryId: op.final.body && op.final.body.id, answer: op.final.body }];
    check('every acknowledged batch is in the ledger whole, exactly once, in its order', (fail) => {
      for (const op of acknowledged.filter((o) => o.batch)) {
        const entries = entriesByKey.get(op.key) ?? [];
        const items = (op.final.body && op.final.body.items) || [];
        if (items.length !== op.batch.length) fail(`${op.key}: ${items.length} items answered for ${op.batch.length} operations`);
        if (entries.length !== op.batch.length) fail(`${op.key}: ${entries.length} ledger entries for ${op.batch.length} operations`);
        // The ledger's order (by seq) is the batch's order.
        const seqOf = new Map(entries.map((e) => [e.id, BigInt(e.seq)]));
        for (let i = 1; i < items.length; i++) {
          if (!(seqOf.get(items[i - 1].id) < seqOf.get(items[i].id))) fail(`${op.key}: /operations/${i} is not after /operations/${i - 1} in the ledger`);
        }
      }
    });
    const entriesById = new Map(ledger.map((e) => [e.id, e]));
    check('every acknowledged operation is in the ledger exactly once, as acknowledged', (fail) => {
      for (const op of acknowledged.flatMap((o) => (o.batch ? single(o) : [o]))) {
        if (op.entryId) {
          // An operation of a batch: its entry by the id answered (the batch's key is on each).
          const e = entriesById.get(op.entryId);
          const expected = op.body.action === 'debit' ? new Big(op.body.amount).neg() : new Big(op.body.amount);
          if (!e) fail(`${op.key}: acknowledged entry ${op.entryId} is not in the ledger`);
          else if (e.customer_id !== op.customerId || e.action !== op.body.action || !new Big(e.converted_amount).eq(expected) || !new Big(e.balance_after).eq(op.answer.balanceAfter)) {
            fail(`${op.key}: ledger has ${JSON.stringify(e)}, acknowledged ${JSON.stringify(op.answer)} for ${JSON.stringify(op.body)}`);
          }
          continue;
        }
        const entries = entriesByKey.get(op.key) ?? [];
        if (entries.length !== 1) {
          fail(`${op.key}: ${entries.length} ledger entries`);
          continue;
        }
        const [e] = entries;
        const b = op.final.body ?? {};
        const expected = op.body.action === 'debit' ? new Big(op.body.amount).neg() : new Big(op.body.amount);
        if (e.id !== b.id) fail(`${op.key}: acknowledged entry ${b.id}, ledger has ${e.id}`);
        if (e.customer_id !== op.customerId) fail(`${op.key}: entry on customer ${e.customer_id}, sent to ${op.customerId}`);
        if (e.action !== op.body.action) fail(`${op.key}: entry action ${e.action}, sent ${op.body.action}`);
        if (!new Big(e.converted_amount).eq(expected)) fail(`${op.key}: entry amount ${e.converted_amount}, expected ${expected}`);
        if (!b.balanceAfter || !new Big(e.balance_after).eq(b.balanceAfter)) fail(`${op.key}: balanceAfter ${b.balanceAfter} acknowledged, ${e.balance_after} in the ledger`);
      }
    });
    check('no idempotency key appears twice in the ledger (a batch\'s once per operation)', (fail) => {
      for (const [key, entries] of entriesByKey) {
        const op = opsByKey.get(key);
        const allowed = op && op.batch ? op.batch.length : 1;
        if (entries.length > allowed) fail(`${key}: ${entries.length} entries`);
      }
    });
    check('every ledger entry was asked for (opening balances aside)', (fail) => {
      for (const e of ledger) {
        if (e.action === 'opening_balance' && !e.idempotency_key) continue;
        const op = opsByKey.get(e.idempotency_key);
        if (!op) fail(`entry ${e.id} with unknown key ${e.idempotency_key}`);
      }
    });
    check('refused operations (422) left no ledger entry and were insufficient-funds debits', (fail) => {
      for (const op of refused) {
        const n = (entriesByKey.get(op.key) ?? []).length;
        if (n) fail(`${op.key}: refused but ${n} ledger entries`);
        if (op.batch) {
          // A refused batch: nothing written, every item listed an insufficient-funds debit.
          const body = op.final.body || {};
          if (!/\/batch-refused$/.test(String(body.type)) || !Array.isArray(body.errors) || !body.errors.length) fail(`${op.key}: 422 ${JSON.stringify(body)}`);
          for (const error of body.errors || []) {
            const item = op.batch[Number(String(error.pointer).split('/')[2])];
            if (!/\/insufficient-funds$/.test(String(error.type)) || !item || item.action !== 'debit' || item.allowOverdraft) fail(`${op.key}: item ${JSON.stringify(error)}`);
          }
          continue;
        }
        const type = op.final.body && op.final.body.type;
        if (!/\/insufficient-funds$/.test(String(type))) fail(`${op.key}: 422 of type ${type}`);
        if (op.body.action !== 'debit' || op.body.allowOverdraft) fail(`${op.key}: ${op.body.action} refused`);
      }
    });
    check('replays equal the original answer (status, body) and say so', (fail) => {
      for (const op of answered) {
        const stored = storedByKey.get(op.key);
        if (!stored) {
          fail(`${op.key}: answered ${op.final.status} but no idempotency record`);
          continue;
        }
        // One-statement postings keep a reference to their ledger entry instead of the body
        // (the body is rebuilt from the entry on replay).
        // An applied batch keeps the ids of its entries (rebuilt into the items on replay).
        const storedMatches =
          stored.response_body === null && stored.ledger_entry_id
            ? op.final.body && op.final.body.id === stored.ledger_entry_id
            : stored.response_body && Array.isArray(stored.response_body.ledgerEntryIds)
              ? sameJson(stored.response_body.ledgerEntryIds, ((op.final.body && op.final.body.items) || []).map((item) => item.id))
              : sameJson(stored.response_body, op.final.body);
        if (stored.status !== op.final.status || !storedMatches) {
          fail(`${op.key}: answered ${op.final.status} ${JSON.stringify(op.final.body)}, stored ${stored.status} ${JSON.stringify(stored.response_body)}`);
        }
        if (op.final.replayed && op.final.attempt === 1) fail(`${op.key}: a fresh key was answered as a replay`);
        for (const echoed of op.echoes) {
          if (!echoed.replayed) fail(`${op.key}: repeated request not marked Idempotent-Replayed (${echoed.status})`);
          if (echoed.status !== op.final.status || !sameJson(echoed.body, op.final.body)) {
            fail(`${op.key}: replay ${echoed.status} ${JSON.stringify(echoed.body)} differs from ${op.final.status} ${JSON.stringify(op.final.body)}`);
          }
        }
      }
    });
    check('nothing half-written: no idempotency key left in flight', (fail) => {
      for (const k of keys) if (k.status === null) fail(`${k.key}: claimed but never completed`);
    });
    check('every balance equals the sum of its ledger entries', (fail) => {
      for (const c of customers) {
        const sum = ledger.filter((e) => e.customer_id === c.id).reduce((s, e) => s.plus(e.converted_amount), new Big(0));
        if (!sum.eq(c.balance)) fail(`${c.id}: balance ${c.balance}, ledger sum ${sum.toFixed(8)}`);
      }
    });
    check('each entry’s balanceAfter follows from the one before (no lost update)', (fail) => {
      let previous;
      for (const e of ledger) {
        const before = previous && previous.customer_id === e.customer_id ? new Big(previous.balance_after) : new Big(0);
        if (!before.plus(e.converted_amount).eq(e.balance_after)) {
          fail(`${e.customer_id} seq ${e.seq}: ${before.toFixed(8)} + ${e.converted_amount} ≠ ${e.balance_after}`);
        }
        previous = e;
      }
    });
    check('no debit without allowOverdraft took a balance below -creditLimit', (fail) => {
      const limits = new Map(customers.map((c) => [c.id, new Big(c.credit_limit)]));
      // Which operation asked for an entry: a single one by its key, a batch's by the ids answered.
      const bodyOfEntry = new Map(acknowledged.filter((o) => o.batch).flatMap((o) => single(o).map((one) => [one.entryId, one.body])));
      for (const e of ledger) {
        if (e.action !== 'debit') continue;
        const op = opsByKey.get(e.idempotency_key);
        const body = op && op.batch ? bodyOfEntry.get(e.id) : op && op.body;
        if (body && body.allowOverdraft) continue;
        const floor = limits.get(e.customer_id).neg();
        if (new Big(e.balance_after).lt(floor)) fail(`${e.idempotency_key}: balance ${e.balance_after} below ${floor.toFixed(2)}`);
      }
    });
    check('every balance operation has exactly one audit event', (fail) => {
      const counts = new Map(audits.map((a) => [a.target_id, a.n]));
      for (const e of ledger) {
        if (e.action === 'opening_balance') continue;
        if (counts.get(e.id) !== 1) fail(`entry ${e.id}: ${counts.get(e.id) ?? 0} audit events`);
      }
    });
    return checks;
  } finally {
    await db.end();
  }
}

/**
 * The whole exercise on `databaseUrl` (migrated or empty). Options: durationMs, clients,
 * kills, customers, echoRate, lostAnswerRate, finalEchoes, instanceEnv, log (see
 * chaos-lib.d.ts). Returns { ok, stats, checks, events, errorLogLines, logTail }.
 */
async function runChaos(databaseUrl, options = {}) {
  const durationMs = options.durationMs ?? 30000;
  const kills = options.kills ?? 3;
  const log = options.log ?? (() => undefined);
  const ctx = {
    runId: `chaos-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`,
    stats: newStats(),
    ops: [],
    events: [],
    serverErrorBodies: [],
    stopping: false,
    echoRate: options.echoRate ?? 0.1,
    batchRate: options.batchRate ?? 0.15,
    lostAnswerRate: options.lostAnswerRate ?? 0.05,
    requestTimeoutMs: options.requestTimeoutMs ?? 10000,
    operationTimeoutMs: options.operationTimeoutMs ?? 60000,
  };
  const started = Date.now();
  log('starting two instances at once on one database');
  // A short grace: the run ends with a SIGTERM of both, and should not wait long for that.
  const instanceEnv = { SHUTDOWN_GRACE_SECONDS: '3', ...options.instanceEnv };
  ctx.instances = await startInstances(databaseUrl, 2, instanceEnv);
  try {
    log(`instances up: ${ctx.instances.map((i) => i.url).join(', ')}`);
    ctx.token = await loginRoot(ctx.instances[0]);
    ctx.customers = await seedTree(ctx.instances[1], ctx.token, options.customers ?? 20);
    log(`seeded ${ctx.customers.length} customers; load for ${durationMs / 1000}s with ${options.clients ?? 12} clients, ${kills} kills`);
    const loadStarted = Date.now();
    const clients = Array.from({ length: options.clients ?? 12 }, (_, i) => client(ctx, i));
    const monkey = chaosMonkey(ctx, kills, durationMs).catch((error) => {
      ctx.monkeyError = error;
    });
    await Promise.all([sleep(durationMs), monkey]);
    ctx.stopping = true;
    await Promise.all(clients);
    const loadSeconds = (Date.now() - loadStarted) / 1000;
    if (ctx.monkeyError) throw ctx.monkeyError;
    // With everything up again, repeat a sample of answered requests once more.
    const answered = ctx.ops.filter((op) => op.final && (op.final.status === 201 || op.final.status === 422));
    const sample = answered.sort(() => Math.random() - 0.5).slice(0, options.finalEchoes ?? 50);
    await Promise.all(sample.map((op) => echo(ctx, op)));
    log('load stopped; checking the database');
    const checks = await checkInvariants(databaseUrl, ctx);
    // The end is a graceful stop, as in a rolling deploy: it must not hang on the clients'
    // leftover connections (the ones whose request was abandoned).
    const stops = await Promise.all(ctx.instances.map((instance) => instance.stop()));
    const graceMs = Number(instanceEnv.SHUTDOWN_GRACE_SECONDS) * 1000;
    const failures = stops
      .map((outcome, i) => ({ outcome, name: ctx.instances[i].name }))
      .filter(({ outcome }) => !outcome || outcome.code !== 0 || outcome.ms > graceMs + 3000)
      .map(({ outcome, name }) => `${name}: ${JSON.stringify(outcome)}`);
    checks.push({ name: `SIGTERM stops each instance cleanly within the grace period (${graceMs / 1000}s)`, ok: failures.length === 0, failures });
    ctx.events.push(`SIGTERM: ${stops.map((o, i) => `${ctx.instances[i].name} exit ${o && o.code} in ${o && (o.ms / 1000).toFixed(1)}s`).join(', ')}`);
    const ok = checks.every((c) => c.ok);
    return {
      ok,
      stats: { ...ctx.stats, loadSeconds: Number(loadSeconds.toFixed(1)), totalSeconds: Number(((Date.now() - started) / 1000).toFixed(1)) },
      checks,
      events: ctx.events,
      errorLogLines: ctx.instances.reduce((n, i) => n + i.errorLines, 0),
      logTail: ok ? [] : ctx.instances.flatMap((i) => i.logTail),
    };
  } finally {
    await Promise.all(ctx.instances.map((instance) => instance.stop()));
  }
}

function formatReport(result) {
  const s = result.stats;
  const lines = [
    '',
    '## chaos summary',
    '',
    `operations      ${s.operations} (acknowledged ${s.acknowledged}, refused 422 ${s.refused}, unresolved ${s.unresolved}; of them batches ${s.batches}, ${s.batchesAcknowledged} acknowledged)`,
    `attempts        ${s.attempts}; retries ${s.retries}`,
    `  failed on     connection refused ${s.connectionRefused}, cut off mid-request ${s.cut}, abandoned by the client ${s.abandoned}, 409 in flight ${s.conflicts}, 5xx ${s.serverErrors}`,
    `kills           ${s.kills} SIGKILL, ${s.restarts} restarts`,
    `replays         ${s.replays}: retries answered by replay ${s.replaysAfterRetry} (of which after a kill cut the first ${s.replaysAfterCut}), deliberate repeats ${s.echoes}`,
    `time            load ${s.loadSeconds}s, total ${s.totalSeconds}s; error log lines ${result.errorLogLines}`,
    `events          ${result.events.join('; ') || '-'}`,
    '',
    `invariants      ${result.checks.filter((c) => c.ok).length} passed, ${result.checks.filter((c) => !c.ok).length} failed`,
  ];
  for (const c of result.checks) {
    lines.push(`  ${c.ok ? 'PASS' : 'FAIL'}  ${c.name}`);
    for (const f of c.failures.slice(0, 10)) lines.push(`          ${f}`);
    if (c.failures.length > 10) lines.push(`          … and ${c.failures.length - 10} more`);
  }
  if (result.logTail.length) lines.push('', 'last service log lines:', ...result.logTail);
  return lines.join('\n');
}

module.exports = {
  ROOT,
  MAIN,
  ROOT_LOGIN,
  ROOT_PASSWORD,
  Instance,
  startInstances,
  startDatabase,
  request,
  loginRoot,
  seedTree,
  sendUntilDefinitive,
  checkInvariants,
  runChaos,
  formatReport,
  sameJson,
  assertBuilt,
};
