'use strict';
/**
 * Rate decks and lookups: the time to load a 100,000-row deck (replace, then the same deck
 * merged, which changes nothing), to export it, and lookups per second on that deck.
 */
const { run, summarize, printTable } = require('./lib');

const HEADER = 'prefix,price,firstInterval,nextInterval,connectFee,effectiveFrom';

/** A small deterministic PRNG (mulberry32), so every run loads the same deck. */
function prng(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * `rows` rates on distinct prefixes of 2–9 digits (country codes, then ever longer ranges
 * inside them), a tenth of them with a second, later rate, some of those in the future.
 */
function buildDeck(rows) {
  const random = prng(42);
  const prefixes = new Set();
  while (prefixes.size < rows) {
    const length = 2 + Math.floor(random() * 8);
    let prefix = String(1 + Math.floor(random() * 9));
    while (prefix.length < length) prefix += Math.floor(random() * 10);
    prefixes.add(prefix);
  }
  const lines = [HEADER];
  const used = [];
  for (const prefix of [...prefixes].sort()) {
    if (lines.length > rows) break;
    used.push(prefix);
    const price = (random() * 0.5).toFixed(1 + Math.floor(random() * 6));
    lines.push(`${prefix},${price},60,6,0,2024-01-01T00:00:00Z`);
    if (random() < 0.1 && lines.length <= rows) {
      const later = random() < 0.5 ? '2025-01-01T00:00:00Z' : '2099-01-01T00:00:00Z';
      lines.push(`${prefix},${(random() * 0.5).toFixed(4)},1,1,0.01,${later}`);
    }
  }
  return { csv: lines.join('\n') + '\n', prefixes: used, rows: lines.length - 1 };
}

async function call(url, init, expected = 200) {
  const started = process.hrtime.bigint();
  // A kept-alive connection the server closed while idle (during pgbench) is retried once.
  const res = await fetch(url, init).catch((error) => {
    if (error?.cause?.code !== 'UND_ERR_SOCKET') throw error;
    return fetch(url, init);
  });
  const text = await res.text();
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (res.status !== expected) throw new Error(`${init?.method ?? 'GET'} ${url}: ${res.status} ${text.slice(0, 500)}`);
  return { text, ms };
}

async function ratesBench({ canopy, duration = 10, connections = 10, rows = 100000 }) {
  const login = await call(`${canopy.url}/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ login: 'root', password: 'bench-root-password' }),
  });
  const auth = { authorization: `Bearer ${JSON.parse(login.text).accessToken}` };
  const tariff = await call(
    `${canopy.url}/v1/tariffs`,
    {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ name: `bench-${Date.now()}`, currency: 'USD' }),
    },
    201,
  );
  const ratesUrl = `${canopy.url}/v1/tariffs/${JSON.parse(tariff.text).id}/rates`;
  const deck = buildDeck(rows);
  const upload = (mode) =>
    call(`${ratesUrl}?mode=${mode}`, { method: 'PUT', headers: { ...auth, 'content-type': 'text/csv' }, body: deck.csv });

  const replace = await upload('replace');
  const merge = await upload('merge');
  const exported = await call(ratesUrl, { headers: { ...auth, accept: 'text/csv' } });
  const reimport = await call(`${ratesUrl}?mode=replace`, {
    method: 'PUT',
    headers: { ...auth, 'content-type': 'text/csv' },
    body: exported.text,
  });
  const again = await call(ratesUrl, { headers: { ...auth, accept: 'text/csv' } });

  const mib = (n) => (n / 2 ** 20).toFixed(1);
  process.stdout.write(`\n## Rate decks (${deck.rows.toLocaleString('en')} rows, ${mib(Buffer.byteLength(deck.csv))} MiB of CSV)\n\n`);
  process.stdout.write('| step | ms | result |\n|---|---:|---|\n');
  process.stdout.write(`| PUT ?mode=replace (empty tariff) | ${replace.ms.toFixed(0)} | ${replace.text} |\n`);
  process.stdout.write(`| PUT ?mode=merge (same deck) | ${merge.ms.toFixed(0)} | ${merge.text} |\n`);
  process.stdout.write(`| GET Accept: text/csv (export) | ${exported.ms.toFixed(0)} | ${mib(Buffer.byteLength(exported.text))} MiB |\n`);
  process.stdout.write(`| PUT ?mode=replace (the export) | ${reimport.ms.toFixed(0)} | ${reimport.text} |\n`);
  process.stdout.write(`\nexport → import → export byte-identical: ${again.text === exported.text ? 'yes' : 'NO'}\n`);

  // Lookups: numbers that extend random prefixes of the deck by 4–8 digits, so each one
  // matches some prefix and the query considers up to ~17 candidates.
  const random = prng(7);
  const numbers = Array.from({ length: 10000 }, () => {
    let number = deck.prefixes[Math.floor(random() * deck.prefixes.length)];
    const extra = 4 + Math.floor(random() * 5);
    for (let i = 0; i < extra; i++) number += Math.floor(random() * 10);
    return number;
  });
  let next = 0;
  const lookupPath = new URL(`${ratesUrl}/lookup`).pathname;
  const lookups = await run({
    url: canopy.url,
    duration,
    connections,
    headers: auth,
    requests: [{ method: 'GET', setupRequest: (req) => ({ ...req, path: `${lookupPath}?number=%2B${numbers[next++ % numbers.length]}` }) }],
  });
  const misses = await run({
    url: `${canopy.url}${lookupPath}?number=0000000000`,
    duration: Math.max(1, Math.round(duration / 2)),
    connections,
    headers: auth,
  });
  // The same authenticated path with one indexed query instead of two, for comparison.
  const tariffGet = await run({ url: ratesUrl.replace(/\/rates$/, ''), duration: Math.max(1, Math.round(duration / 2)), connections, headers: auth });
  printTable(`Rate lookups on that deck (${connections} connections)`, [
    summarize('GET .../rates/lookup?number= (10,000 covered numbers)', lookups),
    summarize('GET .../rates/lookup?number= (no rate: 404 no-rate)', misses),
    summarize('GET /v1/tariffs/{id} (same auth, for comparison)', tariffGet),
  ]);
  return { replace, merge, exported, reimport, lookups };
}

module.exports = { ratesBench, buildDeck };
