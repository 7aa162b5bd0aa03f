import { NotFoundProblem } from '../common/problem/problem';
import { Caller, isAccountCaller } from './caller';
import { likePattern, SqlParams } from '../database/sql';

export type ScopeMode = 'self-and-descendants' | 'descendants';

/**
 * THE scope helper: the SQL condition that restricts customer rows (under `alias`) to the
 * caller's subtree. An indexed range scan on the materialized path, never a recursive walk.
 * Every query on customer data goes through here (directly or via a join to customers).
 */
export function subtreeCondition(alias: string, caller: Caller, params: SqlParams, mode: ScopeMode, form: PathForm = 'like'): string {
  const inSubtree = `${pathUnderCondition(`${alias}.path`, caller.path, params, form)} AND ${alias}.deleted_at IS NULL`;
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
 * SQL: the path in `pathExpr` lies at or under `path` — a prefix range on a materialized path,
 * deleted customers included. For history (audit events' subjects, their actors), which
 * outlives the customers it names; live customer rows go through `subtreeCondition`.
 */
export function pathUnderCondition(pathExpr: string, path: string, params: SqlParams, form: PathForm = 'like'): string {
  if (form === 'range') return `${pathExpr} >= ${params.add(path)} AND ${pathExpr} < ${params.add(pathSuccessor(path))}`;
  return `${pathExpr} LIKE ${params.add(likePattern(path, 'prefix'))}`;
}

/**
 * How a path prefix is written: `like` (`path LIKE '/1/7/%'`), from which PostgreSQL derives
 * the index range when it plans for the value, or `range` (`path >= '/1/7/' AND path <
 * '/1/70'`), the same rows (paths are "C"-collated text), which a generic plan of a named
 * prepared statement can still walk the path index with.
 */
export type PathForm = 'like' | 'range';

/** The least text above every text that starts with `prefix` ('/1/7/' → '/1/70'). */
function pathSuccessor(prefix: string): string {
  return prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
}

/**
 * THE rule for the actor of a stored record (an audit event, a feed event, a ledger entry) as
 * a viewer sees it (SPEC §1, §9, §14): its id when the actor is the viewer, a customer below it
 * or an account of one (deleted ones included: history outlives them), else NULL. `under`
 * gives the condition "this path lies in the viewer's subtree": `pathUnderCondition` for a
 * caller, or a column for a viewer per row (a webhook endpoint's owner). Goes after the FROM
 * clause (`joins`, aliases va, vaa, vac); `visible` is the actor shown, `hidden` says an actor
 * exists but is not shown.
 */
export function visibleActorSql(actorColumn: string, under: (pathExpr: string) => string): { joins: string; visible: string; hidden: string } {
  return {
    joins: `LEFT JOIN customers va ON va.id = ${actorColumn} AND ${under('va.path')}
         LEFT JOIN (accounts vaa JOIN customers vac ON vac.id = vaa.customer_id) ON va.id IS NULL AND vaa.id = ${actorColumn} AND ${under('vac.path')}`,
    visible: 'coalesce(va.id, vaa.id)',
    hidden: `(${actorColumn} IS NOT NULL AND va.id IS NULL AND vaa.id IS NULL)`,
  };
}

/** `visibleActorSql` for a caller: actors in the caller's subtree are shown. */
export function callerVisibleActorSql(actorColumn: string, caller: Caller, params: SqlParams): { joins: string; visible: string; hidden: string } {
  return visibleActorSql(actorColumn, (pathExpr) => pathUnderCondition(pathExpr, caller.path, params));
}

/**
 * The subtree of a customer the caller sees (`branch`, a row found visible; the customer
 * itself only in `self-and-descendants` mode), within the caller's scope: the lists of
 * "that customer's subtree".
 */
export function branchCondition(
  alias: string,
  caller: Caller,
  branch: { path: string; depth: number },
  params: SqlParams,
  mode: ScopeMode,
  form: PathForm = 'like',
): string {
  const inBranch = pathUnderCondition(`${alias}.path`, branch.path, params, form);
  const below = mode === 'descendants' ? ` AND ${alias}.depth > ${params.add(branch.depth)}` : '';
  return `${subtreeCondition(alias, caller, params, 'self-and-descendants', form)} AND ${inBranch}${below}`;
}

/**
 * `subtreeCondition` for a set of rows each reached by its own caller: the customer row under
 * `alias` lies in the subtree of the caller whose path and depth are the SQL expressions given
 * (a column of the set, e.g. of a posting's holders).
 */
export function subtreeConditionOf(alias: string, callerPathExpr: string, callerDepthExpr: string, mode: ScopeMode): string {
  const inSubtree = `starts_with(${alias}.path, ${callerPathExpr}) AND ${alias}.deleted_at IS NULL`;
  return mode === 'descendants' ? `${inSubtree} AND ${alias}.depth > ${callerDepthExpr}` : inSubtree;
}

/**
 * THE account scope: the accounts (rows under `accountAlias`, joined to their customer under
 * `customerAlias`) the caller sees. A customer sees the accounts of the live customers of its
 * subtree; an account principal sees itself and nothing else (SPEC §2 "Account self-care").
 * Repositories that serve an account principal use this, and only this, to let it in.
 */
export function accountScope(accountAlias: string, customerAlias: string, caller: Caller, params: SqlParams): string {
  if (isAccountCaller(caller)) return `${accountAlias}.id = ${params.add(caller.accountId)} AND ${customerAlias}.deleted_at IS NULL`;
  return subtreeCondition(customerAlias, caller, params, 'self-and-descendants');
}

/**
 * The rated calls (rows under `alias` with the call's `customer_path` and `account_id`) the
 * caller sees: those of its subtree's customers; for an account principal, its own.
 */
export function callScope(alias: string, caller: Caller, params: SqlParams): string {
  if (isAccountCaller(caller)) return `${alias}.account_id = ${params.add(caller.accountId)}`;
  return pathUnderCondition(`${alias}.customer_path`, caller.path, params);
}
