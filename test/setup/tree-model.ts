import fc from 'fast-check';
import { Actor, createCustomer, uniqueName } from './factories';
import type { TestApp } from './test-app';

/**
 * A small customer tree as the tests think of it, independent of the API: node 0 is the top
 * (hung under some real customer when built), and `parents[i]` (i ≥ 1) is an earlier node.
 * Expected visibility is computed from this model, never asked of the service.
 */
export interface TreeModel {
  /** parents[0] is null (the top); parents[i] < i otherwise. */
  readonly parents: ReadonlyArray<number | null>;
}

/** Trees of `minNodes`..`maxNodes` nodes, each node's parent chosen at random among earlier ones. */
export function treeArbitrary({ minNodes = 2, maxNodes = 12 } = {}): fc.Arbitrary<TreeModel> {
  if (minNodes < 1 || maxNodes < minNodes) throw new Error('treeArbitrary: need 1 ≤ minNodes ≤ maxNodes');
  // Raw naturals reduced modulo the number of earlier nodes: shrinks towards fewer nodes and
  // towards every node hanging under the top.
  return fc
    .array(fc.nat(), { minLength: minNodes - 1, maxLength: maxNodes - 1 })
    .map((raw) => ({ parents: [null, ...raw.map((r, i) => r % (i + 1))] }));
}

export const nodeCount = (model: TreeModel): number => model.parents.length;

export function childrenOf(model: TreeModel, node: number): number[] {
  return model.parents.flatMap((p, i) => (p === node ? [i] : []));
}

/** Depth below the top (the top is 0). */
export function depthOf(model: TreeModel, node: number): number {
  let depth = 0;
  for (let p = model.parents[node]; p !== null; p = model.parents[p]) depth++;
  return depth;
}

/** Whether `node` lies in `ancestor`'s subtree; `strict` excludes `ancestor` itself. */
export function isInSubtree(model: TreeModel, ancestor: number, node: number, strict: boolean): boolean {
  if (node === ancestor) return !strict;
  for (let p = model.parents[node]; p !== null; p = model.parents[p]) if (p === ancestor) return true;
  return false;
}

/** The strict subtree: every descendant of `node`, not `node` itself. */
export function strictSubtree(model: TreeModel, node: number): number[] {
  return model.parents.flatMap((_, i) => (isInSubtree(model, node, i, true) ? [i] : []));
}

export const isLeaf = (model: TreeModel, node: number): boolean => childrenOf(model, node).length === 0;

/** A model built through HTTP: `actors[i]` is node i, logged in. */
export interface BuiltTree {
  model: TreeModel;
  actors: Actor[];
  ids: string[];
}

/** Creates the model's customers through the API (node 0 under `top`), parents before children. */
export async function buildTree(t: TestApp, top: Actor, model: TreeModel): Promise<BuiltTree> {
  const actors: Actor[] = [];
  for (let i = 0; i < nodeCount(model); i++) {
    const parent = model.parents[i];
    actors.push(await createCustomer(t, parent === null ? top : actors[parent], { name: uniqueName(`node-${i}`) }));
  }
  return { model, actors, ids: actors.map((a) => a.id) };
}
