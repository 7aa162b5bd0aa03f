'use strict';
/**
 * The measuring stick for calls (issue 13): what the database alone does for the writes that
 * SPEC §13 and §14 require of 1,000 rated calls four levels deep, as raw SQL in one
 * transaction through pgbench, on a scratch database of the same server. Per call: the call
 * row (unique per poster and call id, its five charges as JSON, indexed by account and time),
 * five ledger entries with their balances after (the account and the four customers of its
 * chain), the five balance updates (summed per holder, as a set), and six events (one
 * `balance.changed` per entry, one `call.rated`). The chain's four balance rows are locked
 * first, as every batch of one chain must. No rating: the rates are not read (the stick for
 * postings reads nothing either), no audit, no usage rollups, no idempotency records beyond
 * the call's own key, bigint keys instead of uuids: a floor of the work, not Canopy's design.
 *
 * Calls/s = pgbench's transactions/s × 1,000. Run alone: `node bench/calls-limit.js` starts
 * its own embedded PostgreSQL (or uses DATABASE_URL).
 */
const { runPgbench } = require('./posting-limit');

const ACCOUNTS = 1000;
const CALLS = 1000;

const SCHEMA = `
CREATE TABLE balances (id bigint PRIMARY KEY, balance numeric(38,8) NOT NULL DEFAULT 0, version int NOT NULL DEFAULT 0);
INSERT INTO balances (id) SELECT g FROM generate_series(1, ${4 + ACCOUNTS}) g;
CREATE TABLE calls (id bigserial PRIMARY KEY, poster bigint NOT NULL, call_id text NOT NULL, account_id bigint NOT NULL,
  number text NOT NULL, connect_time timestamptz NOT NULL, duration int NOT NULL, charges jsonb NOT NULL,
  UNIQUE (poster, call_id));
CREATE INDEX ON calls (account_id, connect_time DESC);
CREATE TABLE ledger (id bigserial PRIMARY KEY, holder_id bigint NOT NULL, action text, amount numeric(38,8),
  currency varchar(3), rate numeric(38,12), converted numeric(38,8), balance_after numeric(38,8), notes text,
  actor bigint, created_at timestamptz DEFAULT now());
CREATE INDEX ON ledger (holder_id, id DESC);
CREATE TABLE events (sequence bigserial PRIMARY KEY, type text NOT NULL, subject_id bigint NOT NULL, data jsonb NOT NULL,
  occurred_at timestamptz DEFAULT now());
ANALYZE;
`;

/** One batch of 1,000 calls by accounts 5…1004 of the chain 1 → 2 → 3 → 4. */
const SCRIPT = `BEGIN;
SELECT id FROM balances WHERE id <= 4 ORDER BY id FOR UPDATE;
WITH c AS (
  INSERT INTO calls (poster, call_id, account_id, number, connect_time, duration, charges)
  SELECT 1, md5(random()::text), 5 + floor(random() * ${ACCOUNTS})::int, '49' || (1000000000 + g), now() - random() * interval '1 day',
         60, jsonb_build_array(jsonb_build_object('prefix', '49', 'price', '0.0123', 'billedSeconds', 60, 'amount', '0.0123'),
                               jsonb_build_object('prefix', '49', 'price', '0.0110', 'billedSeconds', 60, 'amount', '0.0110'),
                               jsonb_build_object('prefix', '49', 'price', '0.0100', 'billedSeconds', 60, 'amount', '0.0100'),
                               jsonb_build_object('prefix', '49', 'price', '0.0090', 'billedSeconds', 60, 'amount', '0.0090'),
                               jsonb_build_object('prefix', '49', 'price', '0.0080', 'billedSeconds', 60, 'amount', '0.0080'))
    FROM generate_series(1, ${CALLS}) g
  RETURNING id, account_id),
ch AS (SELECT c.id AS call, v.holder, v.amount FROM c CROSS JOIN LATERAL (VALUES (c.account_id, 0.0123), (4, 0.0110), (3, 0.0100), (2, 0.0090), (1, 0.0080)) v(holder, amount)),
u AS (
  UPDATE balances b SET balance = b.balance - t.total, version = b.version + t.n
    FROM (SELECT holder, sum(amount) AS total, count(*) AS n FROM ch GROUP BY holder) t
   WHERE b.id = t.holder
  RETURNING b.id, b.balance + t.total AS before),
l AS (
  INSERT INTO ledger (holder_id, action, amount, currency, rate, converted, balance_after, notes, actor)
  SELECT ch.holder, 'usage', ch.amount, 'USD', 1, -ch.amount, u.before - sum(ch.amount) OVER (PARTITION BY ch.holder ORDER BY ch.call), ch.call::text, 1
    FROM ch JOIN u ON u.id = ch.holder
  RETURNING id, holder_id, converted, balance_after)
INSERT INTO events (type, subject_id, data)
SELECT 'balance.changed', holder_id, jsonb_build_object('ledgerEntryId', id, 'amount', converted::text, 'balanceAfter', balance_after::text) FROM l
UNION ALL
SELECT 'call.rated', id, jsonb_build_object('accountId', account_id) FROM c;
END;
`;

/** { calls: calls/s, where, seconds } at `clients` (default 4, as the calls benchmark), or undefined without pgbench. */
async function callsLimit({ databaseUrl, duration = 10, clients = 4 }) {
  const result = await runPgbench({ databaseUrl, prefix: 'canopy_calls_limit', schema: SCHEMA, scripts: { calls: SCRIPT }, clients: [clients], duration });
  return result && { callsPerSecond: Math.round(result.calls[clients] * CALLS), where: result.where, seconds: result.seconds };
}

module.exports = { callsLimit };

if (require.main === module) {
  (async () => {
    const { startDatabase } = require('./lib');
    const db = await startDatabase();
    try {
      for (const clients of [1, 4]) {
        const r = await callsLimit({ databaseUrl: db.url, clients, duration: Number(process.env.CALLS_LIMIT_SECONDS ?? 10) });
        process.stdout.write(`raw-SQL calls limit, ${clients} client(s): ${r?.callsPerSecond ?? 'skipped'} calls/s\n`);
      }
    } finally {
      await db.stop();
    }
  })().catch((error) => {
    process.stderr.write(`${error.stack ?? error}\n`);
    process.exit(1);
  });
}
