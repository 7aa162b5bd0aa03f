'use strict';
/**
 * The customer tree at size: 100,000 customers, 12 levels (root at depth 0, leaves at 11),
 * seeded straight into SQL, then the tree reads under load: one customer by id (a deep
 * descendant, asked by a customer high in the tree), the first page of `?scope=subtree` for
 * a customer with ~10,000 descendants (and its second page, through the cursor), a name search
 * (`?q=`) over a subtree of ~33,000, and login. For each read it prints which indexes served
 * it (the table's index scan counters before and after), so that a sequential scan shows.
 *
 * The tree is a complete ternary tree in breadth-first ("heap") order: heap index 1 is the
 * root and the children of h are 3h-1, 3h, 3h+1, so a node's parent, depth and subtree size
 * are arithmetic, and each level is one INSERT ... SELECT generate_series joined to its
 * parent level (for `path`). 100,000 nodes fill depths 0..10 and 11,427 of depth 11.
 */
const { performance } = require('node:perf_hooks');
const path = require('node:path');
const { Client } = require('pg');
const argon2 = require('argon2');
const { ROOT, run, summarize, printTable, settle, login: loginAs } = require('./lib');

const FANOUT = 3;
const PASSWORD = 'bench-password-123';
const TARGET_SUBTREE = 10_000;

/** Heap-index arithmetic of the complete FANOUT-ary tree cut at `total` nodes. */
function heapTree(total) {
  const firstChild = (h) => FANOUT * (h - 1) + 2;
  const depthOf = (h) => {
    let depth = 0;
    for (let first = 1, width = 1; h >= first + width; first += width, width *= FANOUT) depth++;
    return depth;
  };
  /** Heap-index ranges of each level of h's subtree below h: [[lo, hi], ...] (clipped to total). */
  const levelsBelow = (h) => {
    const levels = [];
    for (let lo = firstChild(h), hi = firstChild(h) + FANOUT - 1; lo <= total; lo = firstChild(lo), hi = firstChild(hi) + FANOUT - 1) {
      levels.push([lo, Math.min(hi, total)]);
    }
    return levels;
  };
  const descendants = (h) => levelsBelow(h).reduce((n, [lo, hi]) => n + hi - lo + 1, 0);
  const levels = [];
  for (let first = 1, width = 1; first <= total; first += width, width *= FANOUT) levels.push([first, Math.min(first + width - 1, total)]);
  return { depthOf, levelsBelow, descendants, levels };
}

/** Inserts customers 2..total of the heap tree under the existing root; returns what it built. */
async function seedTree(client, total) {
  const { rows: roots } = await client.query(`SELECT node_id FROM customers WHERE parent_id IS NULL`);
  const { rows: counted } = await client.query(`SELECT count(*)::int AS n FROM customers`);
  if (roots.length !== 1 || counted[0].n !== 1) throw new Error('bench/tree.js needs a database holding only the root customer');
  // Heap index h is node_id base + h; the root (h = 1) keeps its own node id.
  const base = Number(roots[0].node_id) - 1;
  const { loadConfig } = require(path.join(ROOT, 'dist/src/config/config.js'));
  const { DEFAULT_PERMISSIONS } = require(path.join(ROOT, 'dist/src/permissions/permission.catalogue.js'));
  const config = loadConfig({});
  // One real argon2id hash (the service's default cost) shared by every seeded customer, so
  // any of them can log in with PASSWORD.
  const hash = await argon2.hash(PASSWORD, {
    type: argon2.argon2id,
    memoryCost: config.PASSWORD_HASH_MEMORY_KIB,
    timeCost: config.PASSWORD_HASH_ITERATIONS,
    parallelism: 1,
  });
  const tree = heapTree(total);
  const started = performance.now();
  await client.query('BEGIN');
  for (let depth = 1; depth < tree.levels.length; depth++) {
    const [lo, hi] = tree.levels[depth];
    await client.query(
      `INSERT INTO customers (node_id, parent_id, path, depth, name, time_zone, language, web_login, web_password_hash,
                              base_currency, permissions)
       OVERRIDING SYSTEM VALUE
       SELECT $1::bigint + h, p.id, p.path || ($1::bigint + h) || '/', $2, 'customer ' || h, 'UTC', 'en', 'bench-' || h, $3,
              'USD', $4
         FROM generate_series($5::bigint, $6::bigint) AS h
         JOIN customers p ON p.node_id = $1::bigint + (h - 2) / ${FANOUT} + 1`,
      [base, depth, hash, DEFAULT_PERMISSIONS, lo, hi],
    );
  }
  // The service takes node ids from the identity sequence: move it past the seeded ones.
  await client.query(`SELECT setval(pg_get_serial_sequence('customers', 'node_id'), (SELECT max(node_id) FROM customers))`);
  await client.query('COMMIT');
  const insertMs = performance.now() - started;
  await client.query('ANALYZE customers');
  const seedMs = performance.now() - started;
  return { tree, base, insertMs, seedMs };
}

const login = (canopy, webLogin) => loginAs(canopy, webLogin, PASSWORD);

/** Index scans on customers so far, by index (PostgreSQL's cumulative statistics). */
async function indexScans(client) {
  await client.query('SELECT pg_stat_clear_snapshot()');
  const { rows } = await client.query(`SELECT indexrelname AS name, idx_scan::bigint AS n FROM pg_stat_user_indexes WHERE relname = 'customers'`);
  const { rows: seq } = await client.query(`SELECT seq_scan::bigint AS n FROM pg_stat_user_tables WHERE relname = 'customers'`);
  return { ...Object.fromEntries(rows.map((r) => [r.name, Number(r.n)])), '(sequential scan)': Number(seq[0].n) };
}

/**
 * A backend reports its statistics when it goes idle, at most once a second (else up to 10 s
 * later): after a second, one touch of the database (`SELECT 1`) on each pooled connection
 * makes every one that served the scenario report.
 */
async function flushStatistics(canopy) {
  await new Promise((resolve) => setTimeout(resolve, 1100));
  await Promise.all(Array.from({ length: 40 }, () => fetch(`${canopy.url}/health/ready`).then((r) => r.arrayBuffer())));
  await new Promise((resolve) => setTimeout(resolve, 300));
}

/** The indexes whose scan counts grew between two readings, most used first: "name ×count, ...". */
function indexesUsed(before, after) {
  return (
    Object.keys(after)
      .map((name) => [name, after[name] - (before[name] ?? 0)])
      .filter(([, n]) => n > 0)
      .sort((a, b) => b[1] - a[1])
      .map(([name, n]) => `${name} ×${n}`)
      .join(', ') || 'none'
  );
}

async function idOf(client, base, h) {
  const { rows } = await client.query(`SELECT id FROM customers WHERE node_id = $1`, [base + h]);
  return rows[0].id;
}

async function treeBench({ canopy, databaseUrl, duration = 10, connections = 10, total = 100_000 }) {
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { tree, base, insertMs, seedMs } = await seedTree(client, total);
    const { rows: shape } = await client.query(`SELECT count(*)::int AS customers, max(depth) AS deepest FROM customers`);
    process.stdout.write(
      `\n## Customer tree (${shape[0].customers} customers, depths 0..${shape[0].deepest})\n\n` +
        `seeded in ${(insertMs / 1000).toFixed(2)} s (+ ANALYZE: ${(seedMs / 1000).toFixed(2)} s in all)\n`,
    );

    // High in the tree: the first child of the root; its deepest, last descendant.
    const high = 2;
    const highLevels = tree.levelsBelow(high);
    const deep = highLevels[highLevels.length - 1][1];
    // The customer (near the top) whose subtree is closest to TARGET_SUBTREE.
    let big = 2;
    for (let h = 2; h <= Math.min(total, 200); h++) {
      if (Math.abs(tree.descendants(h) - TARGET_SUBTREE) < Math.abs(tree.descendants(big) - TARGET_SUBTREE)) big = h;
    }
    const [deepId, bigId] = [await idOf(client, base, deep), await idOf(client, base, big)];
    const { rows: bigCount } = await client.query(
      `SELECT count(*)::int AS n FROM customers d JOIN customers b ON b.id = $1 WHERE d.path LIKE b.path || '%' AND d.id <> b.id`,
      [bigId],
    );
    process.stdout.write(
      `GET by id: bench-${high} (depth ${tree.depthOf(high)}) reads bench-${deep} (depth ${tree.depthOf(deep)}); ` +
        `subtree: bench-${big} (depth ${tree.depthOf(big)}) has ${bigCount[0].n} descendants\n`,
    );

    const highToken = await login(canopy, `bench-${high}`);
    const bigToken = await login(canopy, `bench-${big}`);
    const auth = (token) => ({ authorization: `Bearer ${token}` });
    const firstPage = await (await fetch(`${canopy.url}/v1/customers?scope=subtree`, { headers: auth(bigToken) })).json();
    if (!firstPage.nextCursor) throw new Error('expected more than one page of the subtree');

    // The search: a name part that a few customers of bench-2's subtree (~33,000) carry.
    const search = 'customer 4321';
    const scenarios = [
      { key: 'byId', name: `GET /v1/customers/{id} (depth ${tree.depthOf(deep)}, as depth ${tree.depthOf(high)})`, url: `/v1/customers/${deepId}`, headers: auth(highToken) },
      { key: 'firstPage', name: `GET ?scope=subtree first page (${bigCount[0].n} descendants)`, url: '/v1/customers?scope=subtree', headers: auth(bigToken) },
      {
        key: 'secondPage',
        name: 'GET ?scope=subtree second page (cursor)',
        url: `/v1/customers?scope=subtree&cursor=${encodeURIComponent(firstPage.nextCursor)}`,
        headers: auth(bigToken),
      },
      {
        key: 'search',
        name: `GET ?scope=subtree&q=${search} (as depth ${tree.depthOf(high)}, ${tree.descendants(high)} descendants)`,
        url: `/v1/customers?scope=subtree&q=${encodeURIComponent(search)}`,
        headers: auth(highToken),
      },
      {
        key: 'login',
        name: 'POST /v1/auth/login',
        url: '/v1/auth/login',
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ login: `bench-${big}`, password: PASSWORD }),
      },
    ];
    // The reads start from a settled database (the 100,000 rows just inserted: autovacuum's
    // insert threshold, their dirty pages), as the writing steps do, and each read gets 2 s of
    // warm-up, not counted (a fresh process's first requests of a route, code not yet optimized).
    const waited = await settle(databaseUrl);
    process.stdout.write(`reads started once the database had settled (${waited} ms), each after a 2-s warm-up not counted\n`);
    const rows = [];
    const figures = {};
    const used = [];
    for (const s of scenarios) {
      if (!s.method) await run({ url: canopy.url + s.url, headers: s.headers, duration: Math.min(2, duration), connections });
      const before = await indexScans(client);
      const result = await run({ url: canopy.url + s.url, method: s.method ?? 'GET', headers: s.headers, body: s.body, duration, connections });
      const row = summarize(s.name, result);
      rows.push(row);
      figures[s.key] = row;
      await flushStatistics(canopy);
      used.push([s.name, indexesUsed(before, await indexScans(client))]);
    }
    printTable(`Tree reads (${connections} connections, ${duration}s each)`, rows);
    process.stdout.write('\n| scenario | indexes of customers used (scans) |\n|---|---|\n');
    for (const [name, indexes] of used) process.stdout.write(`| ${name} | ${indexes} |\n`);
    figures.searchIndexed = used[3][1].includes('customers_name_trgm');
    return { rows, figures, tokens: { high: highToken, big: bigToken }, ids: { deep: deepId, big: bigId } };
  } finally {
    await client.end();
  }
}

module.exports = { treeBench, seedTree, heapTree };
