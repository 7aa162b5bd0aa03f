'use strict';
/**
 * Prepaid cards (issue 15): the time of one `POST /v1/customers/{id}/account-batches` that
 * creates 10,000 accounts with numbered usernames, random PINs and an opening balance each
 * (10,000 ledger entries), all in one transaction; target < 10 s. Run twice (JSON, then CSV)
 * on one card customer, then the accounts and entries are counted. Nothing is asserted.
 */
const { login, ROOT_PASSWORD } = require('./lib');

const COUNT = 10000;

async function call(canopy, token, method, path, body, accept = 'application/json') {
  const res = await fetch(`${canopy.url}${path}`, {
    method,
    headers: { 'content-type': 'application/json', accept, authorization: `Bearer ${token}` },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 500)}`);
  return text;
}

async function cardsBench({ canopy }) {
  const token = await login(canopy, 'root', ROOT_PASSWORD);
  const tariff = JSON.parse(await call(canopy, token, 'POST', '/v1/tariffs', { name: `cards-${Date.now()}`, currency: 'USD' }));
  const customer = JSON.parse(
    await call(canopy, token, 'POST', '/v1/customers', {
      name: `Prepaid cards ${Date.now()}`,
      tariffId: tariff.id,
      webLogin: `cards-${Date.now()}`,
      webPassword: 'cards-password-1',
    }),
  );
  const cardTariff = JSON.parse(await call(canopy, token, 'POST', '/v1/tariffs', { name: `card-tariff-${Date.now()}`, currency: 'USD', ownerId: customer.id }));
  const rows = [];
  for (const [format, accept] of [['JSON', 'application/json'], ['CSV', 'text/csv']]) {
    const started = process.hrtime.bigint();
    const text = await call(
      canopy,
      token,
      'POST',
      `/v1/customers/${customer.id}/account-batches`,
      { count: COUNT, usernamePrefix: 'card-', tariffId: cardTariff.id, balance: '10.00' },
      accept,
    );
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const created = format === 'JSON' ? JSON.parse(text).count : text.trimEnd().split('\n').length - 1;
    rows.push({ format, seconds, created, bytes: text.length });
  }
  process.stdout.write(`\n## Prepaid cards: ${COUNT.toLocaleString('en')} accounts in one request\n\n`);
  process.stdout.write('| answer | accounts created | seconds | answer size | target |\n|---|---:|---:|---:|---|\n');
  for (const r of rows) process.stdout.write(`| ${r.format} | ${r.created} | ${r.seconds.toFixed(2)} | ${Math.round(r.bytes / 1024)} KiB | < 10 s |\n`);
  return { seconds: rows.map((r) => r.seconds) };
}

module.exports = { cardsBench };
