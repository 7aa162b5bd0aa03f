import Big from 'big.js';
import { Actor, createCustomer, createTariff, expectProblem, loginRoot } from './factories';
import type { TestApp } from './test-app';

/** The fields every item of the customer and account lists (SPEC §15) has that their tests look at. */
export interface ListItem {
  id: string;
  balance: string;
  createdAt: string;
  status: string;
  externalId: string | null;
  metadata: Record<string, string>;
}

/** The sorts the customer and account lists offer. */
export const LIST_SORTS = ['name', '-name', 'createdAt', '-createdAt', 'balance', '-balance'] as const;

/** The order a sort promises, the id breaking ties; `name` is what `sort=name` compares (the tests' lowercase names sort alike in every collation). */
export function listOrder<T extends ListItem>(sort: string, name: (item: T) => string): (a: T, b: T) => number {
  const desc = sort.startsWith('-');
  const key = sort.replace('-', '');
  return (a, b) => {
    let c: number;
    if (key === 'balance') c = new Big(a.balance).cmp(new Big(b.balance));
    else if (key === 'createdAt') c = a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : 0;
    else c = name(a) < name(b) ? -1 : name(a) > name(b) ? 1 : 0;
    if (c === 0) c = a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
    return desc ? -c : c;
  };
}

/** Every item of a list, following its cursors from `url` (a query with its limit); `onPage` sees each page before the next is asked for. */
export async function walkPages<T>(actor: Actor, url: string, onPage?: (items: T[]) => unknown): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | null = null;
  do {
    const res: { body: { items: T[]; nextCursor: string | null } } = await actor.get(`${url}${cursor ? `&cursor=${cursor}` : ''}`).expect(200);
    items.push(...res.body.items);
    cursor = res.body.nextCursor;
    await onPage?.(res.body.items);
  } while (cursor);
  return items;
}

/** The sorted ids of `items`. */
export const sortedIds = (items: Array<{ id: string }>) => items.map((i) => i.id).sort();

/** A walk made while rows were added: every row there at the start came exactly once, and in the sort's order. */
export function expectStableWalk<T extends { id: string }>(seen: T[], before: T[], order: (a: T, b: T) => number): void {
  const seenIds = seen.map((i) => i.id);
  expect(new Set(seenIds).size).toBe(seenIds.length);
  for (const row of before) expect(seenIds).toContain(row.id);
  expect(seen).toEqual([...seen].sort(order));
}

/** GET `url` is a 400 problem naming `parameter` among its errors; the answer is returned for further checks. */
export async function expectBadParameter(actor: Actor, url: string, parameter: string) {
  const res = await actor.get(url);
  expect(res.status).toBe(400);
  expectProblem(res, 400);
  expect(res.body.errors.map((e: { parameter: string }) => e.parameter)).toContain(parameter);
  return res;
}

/** Root logged in on `t`, a reseller under root and a tariff of the reseller's. */
export async function resellerWithTariff(t: TestApp): Promise<{ root: Actor; reseller: Actor; tariff: string }> {
  const root = await loginRoot(t);
  const reseller = await createCustomer(t, root);
  const tariff = await createTariff(reseller);
  return { root, reseller, tariff };
}
