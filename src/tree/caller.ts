import { ForbiddenProblem } from '../common/problem/problem';
import { Permission } from '../permissions/permission.catalogue';

/**
 * Who is calling and where it sits in the tree. Resolved by the global guard on every
 * authenticated request and handed to services first; never read from the request by them.
 *
 * A Caller is a customer or an account (self-care, SPEC §2), and both go through the same
 * guard, the same scope helper and the same access check. An account principal is made so
 * that a feature which does not know about it finds nothing (deny by construction):
 * - it holds no permissions (every action behind a right is a 403);
 * - `customerId` is the account's own id, `path` is `ACCOUNT_PATH` and `isRoot` is false:
 *   no customer row has that id or lies under that path, so every subtree condition, every
 *   `customer_id = caller.customerId` and every "the caller's own ..." matches nothing
 *   (404s and empty lists, never its customer's or its siblings' data);
 * - the guard lets it through only to the routes opened to accounts (src/auth/account-principal.ts);
 * - the few repositories that serve it (its own account, ledger, calls, statement) say so
 *   explicitly through `accountScope` (src/tree/scope.ts).
 */
export interface Caller {
  /** Which kind of principal: a customer (login or API key) or an account (self-care login). */
  kind: 'customer' | 'account';
  /**
   * The principal's id: the customer's, or for an account principal the account's own id
   * (which names no customer row). Audit events record it as the actor.
   */
  customerId: string;
  /** The account principal's account id; null for a customer. */
  accountId: string | null;
  /** Materialized path of node ids, e.g. '/1/7/42/'; `ACCOUNT_PATH` for an account. Never leaves the server. */
  path: string;
  depth: number;
  baseCurrency: string;
  /** The caller's language (a code from /v1/languages): problem details are written in it. */
  language: string;
  isRoot: boolean;
  permissions: ReadonlySet<Permission>;
  /** The caller's own exchange-rate table (currency → rate), read with the caller: for `display`. */
  exchangeRates: ReadonlyMap<string, string>;
  authMethod: 'password' | 'api-key';
  apiKeyId: string | null;
}

/**
 * The path of every account principal: node 0 does not exist (node ids start at 1), so no
 * customer path starts with it — a prefix condition on it matches no row, and its node ids
 * still parse as numbers wherever a path is split.
 */
export const ACCOUNT_PATH = '/0/';

/** An account principal (self-care), with its account id. */
export type AccountCaller = Caller & { kind: 'account'; accountId: string };

export function isAccountCaller(caller: Caller): caller is AccountCaller {
  return caller.kind === 'account';
}

/** 403 naming the right; call only after the object (if any) was found visible. */
export function requirePermission(caller: Caller, permission: Permission): void {
  if (!caller.permissions.has(permission)) throw new ForbiddenProblem(permission);
}
