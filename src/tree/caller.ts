import { ForbiddenProblem } from '../common/problem/problem';
import { Permission } from '../permissions/permission.catalogue';

/**
 * Who is calling and where it sits in the tree. Resolved by the global guard on every
 * authenticated request and handed to services first; never read from the request by them.
 */
export interface Caller {
  customerId: string;
  /** Materialized path of node ids, e.g. '/1/7/42/'. Never leaves the server. */
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

/** 403 naming the right; call only after the object (if any) was found visible. */
export function requirePermission(caller: Caller, permission: Permission): void {
  if (!caller.permissions.has(permission)) throw new ForbiddenProblem(permission);
}
