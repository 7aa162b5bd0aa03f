import type { EntityManager } from 'typeorm';
import { assertVersion } from '../common/etag';
import { NotFoundProblem, ProblemError } from '../common/problem/problem';
import type { Permission } from '../permissions/permission.catalogue';
import { Caller, requirePermission } from '../tree/caller';
import type { ScopeMode } from '../tree/scope';

/** A row lock taken by the lookup (inside a transaction). */
export type RowLock = '' | 'FOR UPDATE' | 'FOR SHARE';

export interface FindOptions {
  /** The transaction to read in; the pool when absent. */
  tx?: EntityManager;
  lock?: RowLock;
  /** For customer rows: whether the caller itself counts (default `self-and-descendants`). */
  mode?: ScopeMode;
}

/**
 * What a repository offers the access check: the row with this id if the caller may see it
 * (live and in its scope), else undefined. The scope is applied by the repository itself.
 */
export interface Visible<Row> {
  findVisible(caller: Caller, id: string, options?: FindOptions): Promise<Row | undefined>;
}

export interface AccessOptions extends FindOptions {
  /** The right the action needs; checked only once the object was found visible (404 before 403). */
  permission?: Permission;
  /** The version named by `If-Match` (412 on mismatch), checked after the right. */
  version?: number;
  /** What the 404 calls the object ("customer", "tariff", ...). */
  what?: string;
}

/**
 * THE access check (SPEC §1, §8): find the visible row → the one 404 (invisible and
 * nonexistent are the same) → the one 403 naming the right → the version → the (locked) row.
 */
export async function requireAccess<Row extends { version?: number }>(
  rows: Visible<Row>,
  caller: Caller,
  id: string,
  options: AccessOptions = {},
): Promise<Row> {
  const row = await rows.findVisible(caller, id, options);
  if (!row) throw new NotFoundProblem(options.what);
  if (options.permission) requirePermission(caller, options.permission);
  if (options.version !== undefined && row.version !== undefined) assertVersion(options.version, row.version);
  return row;
}

/** The one 403 for an action that only customers above the object may take (never on oneself). */
export function notADescendant(detail: string): ProblemError {
  return new ProblemError(403, 'not-a-descendant', 'Forbidden', detail);
}
