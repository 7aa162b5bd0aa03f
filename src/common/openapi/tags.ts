import type { OpenAPIObject } from '@nestjs/swagger';

/**
 * The tags of the document, in the order a portal developer meets them: log in, look at
 * yourself, build the tree (customers, accounts, what they are sold and in which currency),
 * move money, post and read calls, follow what changes; then the rest. Swagger UI and
 * openapi/openapi.json show them in this order. Every tag an operation carries must be here
 * (test/openapi-examples.e2e-spec.ts).
 */
export const TAGS: ReadonlyArray<{ name: string; description: string }> = [
  {
    name: 'auth',
    description:
      'Log in with a web login and password (`POST /v1/auth/login`) or exchange an API key (`POST /v1/auth/token`) for a bearer token pair; refresh it; log out.',
  },
  { name: 'me', description: 'The caller itself: its record, its effective permissions, its password, time zone and language.' },
  { name: 'customers', description: "The tree of customers below the caller: create, list and search, read, update, delete." },
  { name: 'accounts', description: 'The accounts (SIP end users) of the customers in the caller\'s subtree.' },
  { name: 'tariffs', description: 'Tariffs: the price lists a customer sells to its sub-customers and accounts.' },
  { name: 'rates', description: "A tariff's rates by destination prefix: one at a time, as a CSV rate deck, and the rate that applies to a number." },
  {
    name: 'exchange-rates',
    description: "The caller's exchange rates from its base currency, with their history (the currencies themselves: `GET /v1/currencies` under reference).",
  },
  {
    name: 'balances',
    description: 'Money: balance operations (add funds, credit, debit), batches of them, the ledger and monthly statements. Every operation takes an `Idempotency-Key`.',
  },
  { name: 'calls', description: 'Calls: authorize one before it connects, post rated calls (CDRs), list and read them, usage reports.' },
  { name: 'events', description: "The event feed: every change in the caller's subtree, in order, to follow with a cursor." },
  { name: 'webhooks', description: 'Webhook endpoints that receive the events, their deliveries, and a test send.' },
  { name: 'api-keys', description: 'API keys for machine clients, exchanged for tokens at `POST /v1/auth/token`.' },
  { name: 'permissions', description: 'What a customer may do: the catalogue of permissions and the grants of one customer.' },
  { name: 'system', description: 'Routing groups and system-wide settings.' },
  { name: 'audit', description: 'Who changed what: the audit log of the caller\'s subtree.' },
  { name: 'reference', description: 'Reference data: currencies (ISO 4217), languages and time zones.' },
  { name: 'health', description: 'Liveness, readiness and Prometheus metrics, for operators.' },
];

/**
 * Paths that come first in their tag, in this order, where the order of their names is not
 * the order of use: log in before logging out; a customer's money before an account's, one
 * operation before a batch; a call is authorized, then posted, then read. The others follow
 * by path.
 */
const LEADING_PATHS = [
  '/v1/auth/login',
  '/v1/auth/refresh',
  '/v1/auth/token',
  '/v1/customers/{id}/balance-operations',
  '/v1/customers/{id}/statement',
  '/v1/accounts/{id}/balance-operations',
  '/v1/accounts/{id}/statement',
  '/v1/calls/authorize',
  '/v1/calls',
];

/** Methods in the order a reader expects them on one path: read, create, replace, change, remove. */
const METHOD_ORDER = ['get', 'post', 'put', 'patch', 'delete', 'options', 'head', 'trace'];

/**
 * Declares the tags (with their descriptions) and orders `paths` so that, within a tag, the
 * operations come by LEADING_PATHS, then by path (a collection before its items) and, on one
 * path, by METHOD_ORDER:
 * Swagger UI lists a tag's operations in the document's order, and the committed JSON keeps
 * it (see stableStringify). Tags no operation uses are left out; tags not in TAGS go last.
 */
export function orderDocument(document: OpenAPIObject): void {
  const rank = new Map(TAGS.map((tag, index) => [tag.name, index]));
  const used = new Set<string>();
  const tagRank = (tags: string[] | undefined) => Math.min(...(tags ?? []).map((t) => rank.get(t) ?? TAGS.length), TAGS.length);
  const entries = Object.entries(document.paths).map(([path, item]) => {
    const methods = Object.keys(item).filter((key) => METHOD_ORDER.includes(key));
    const tags = methods.flatMap((method) => (item as Record<string, { tags?: string[] }>)[method].tags ?? []);
    tags.forEach((tag) => used.add(tag));
    const ordered = Object.fromEntries([
      ...Object.entries(item).filter(([key]) => !METHOD_ORDER.includes(key)),
      ...METHOD_ORDER.filter((method) => method in item).map((method) => [method, (item as Record<string, unknown>)[method]]),
    ]);
    const lead = LEADING_PATHS.indexOf(path);
    return { path, item: ordered, rank: tagRank(tags), lead: lead < 0 ? LEADING_PATHS.length : lead };
  });
  entries.sort((a, b) => a.rank - b.rank || a.lead - b.lead || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  document.paths = Object.fromEntries(entries.map((e) => [e.path, e.item]));
  document.tags = [
    ...TAGS.filter((tag) => used.has(tag.name)).map((tag) => ({ ...tag })),
    ...[...used].filter((name) => !rank.has(name)).sort().map((name) => ({ name })),
  ];
}
