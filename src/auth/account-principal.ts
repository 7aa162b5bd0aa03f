import { NotFoundProblem, ProblemError } from '../common/problem/problem';
import { notADescendant } from '../database/access';
import { AccountCaller } from '../tree/caller';

/**
 * THE routes open to an account principal (SPEC §2 "Account self-care"), as the router names
 * them (method and URL template). Everything else is refused by the guard before any handler
 * runs, so a feature added later is closed to accounts until it is listed here. Behind this
 * list the data itself is closed too: an account principal matches no customer row
 * (src/tree/caller.ts) and is let in only by `accountScope` (src/tree/scope.ts).
 */
export const ACCOUNT_ROUTES: ReadonlySet<string> = new Set([
  'GET /v1/me',
  'PATCH /v1/me',
  'POST /v1/auth/logout',
  'GET /v1/accounts/:id',
  'GET /v1/accounts/:id/balance-operations',
  'GET /v1/accounts/:id/statement',
  'GET /v1/calls',
  'GET /v1/calls/:id',
]);

/** What the 404 of a route closed to accounts calls the object it names (the first path segment). */
const OBJECT_NAMES: Record<string, string> = {
  customers: 'customer',
  accounts: 'account',
  tariffs: 'tariff',
  'api-keys': 'API key',
  'webhook-endpoints': 'webhook endpoint',
  'routing-groups': 'routing group',
  'exchange-rates': 'exchange rate',
  calls: 'call',
};

/**
 * The refusal of a route closed to accounts: a route that names an object (a path parameter)
 * is the one 404 — every object but the account itself is invisible to it — unless the object
 * named is the account itself (an action on an object it sees: 403); a route that names none
 * is an action it may not take (403).
 */
export function refuseAccount(caller: AccountCaller, url: string, params: Record<string, string> | undefined): ProblemError {
  const values = Object.values(params ?? {});
  if (values.some((v) => typeof v === 'string' && v.toLowerCase() === caller.accountId.toLowerCase()) || values.length === 0) {
    return notADescendant('An account session may only read its own record, ledger, statement and calls, and change its own password, time zone and language.');
  }
  return new NotFoundProblem(OBJECT_NAMES[url.split('/')[2] ?? ''] ?? 'resource');
}
