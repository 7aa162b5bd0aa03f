import { NotFoundProblem } from '../common/problem/problem';
import { Caller } from './caller';
import { SqlParams } from '../database/sql';

export type ScopeMode = 'self-and-descendants' | 'descendants';

/**
 * THE scope helper: the SQL condition that restricts customer rows (under `alias`) to the
 * caller's subtree. An indexed range scan on the materialized path, never a recursive walk.
 * Every query on customer data goes through here (directly or via a join to customers).
 */
export function subtreeCondition(alias: string, caller: Caller, params: SqlParams, mode: ScopeMode): string {
  const inSubtree = `${alias}.path LIKE ${params.add(caller.path + '%')} AND ${alias}.deleted_at IS NULL`;
  return mode === 'descendants' ? `${inSubtree} AND ${alias}.depth > ${params.add(caller.depth)}` : inSubtree;
}

/** Whether `path` (of a live customer) lies in the caller's subtree. */
export function pathInScope(caller: Caller, path: string, mode: ScopeMode): boolean {
  return path.startsWith(caller.path) && (mode === 'self-and-descendants' || path !== caller.path);
}

/** "Not visible" and "does not exist" are one and the same 404, produced here. */
export function notVisible(what = 'customer'): NotFoundProblem {
  return new NotFoundProblem(what);
}

/** Node ids of the ancestors in a path ('/1/7/42/' → ['1','7','42']). */
export function pathNodeIds(path: string): string[] {
  return path.split('/').filter(Boolean);
}

/** SQL: the node ids of a path expression as bigint[] — the root's down to the node itself. */
export function pathNodeIdsSql(pathExpr: string): string {
  return `string_to_array(trim(both '/' from ${pathExpr}), '/')::bigint[]`;
}

/**
 * SQL: true when the customer at this path is effectively suspended — itself or any ancestor
 * (SPEC §2). A handful of unique-index lookups on `node_id`; nothing below is ever written.
 */
export function pathSuspendedSql(pathExpr: string): string {
  return `EXISTS (SELECT 1 FROM customers anc WHERE anc.node_id = ANY (${pathNodeIdsSql(pathExpr)}) AND anc.status <> 'active')`;
}

/**
 * SQL: `alias` (a customer, live or deleted) lies in the caller's subtree. For attributions
 * (who made a ledger entry), where a deleted actor below the viewer is still named.
 */
export function subtreePathCondition(alias: string, caller: Caller, params: SqlParams): string {
  return `${alias}.path LIKE ${params.add(caller.path + '%')}`;
}
