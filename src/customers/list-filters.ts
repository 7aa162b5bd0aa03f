import type { Metadata } from '../common/metadata';
import { KeyColumn, Keyset } from '../database/keyset';
import type { SqlParams } from '../database/sql';
import { type FilteredListQueryDto, type ListSort, metadataFilter } from './dto/list-query';

/** The filters customer and account lists share (SPEC §15); absent ones do not filter. */
export interface ListFilters {
  status?: string;
  /** RFC 3339, inclusive. */
  createdFrom?: string;
  /** RFC 3339, exclusive. */
  createdTo?: string;
  /** A decimal string: balance < it. */
  balanceBelow?: string;
  externalId?: string;
  /** Every pair must be in the row's metadata (`metadata @> …`, the GIN index). */
  metadata?: Metadata;
}

/** The filters of a customer or account list query (each list's DTO adds its own `status`). */
export function listFiltersOf(query: FilteredListQueryDto & { status?: string }): ListFilters {
  return {
    status: query.status,
    createdFrom: query.createdFrom,
    createdTo: query.createdTo,
    balanceBelow: query.balanceBelow,
    externalId: query.externalId,
    metadata: metadataFilter(query.metadata),
  };
}

/**
 * The SQL conditions of `filters` on the rows under `alias` (customers `c` or accounts `a`),
 * whose balance is `balance` (the column of their balance row: `cb.balance`, `ab.balance`).
 */
export function listFilterConditions(alias: string, balance: string, filters: ListFilters, params: SqlParams): string[] {
  const where: string[] = [];
  if (filters.status !== undefined) where.push(`${alias}.status = ${params.add(filters.status)}`);
  if (filters.createdFrom !== undefined) where.push(`${alias}.created_at >= ${params.add(filters.createdFrom)}::timestamptz`);
  if (filters.createdTo !== undefined) where.push(`${alias}.created_at < ${params.add(filters.createdTo)}::timestamptz`);
  if (filters.balanceBelow !== undefined) where.push(`${balance} < ${params.add(filters.balanceBelow)}::numeric`);
  if (filters.externalId !== undefined) where.push(`${alias}.external_id = ${params.add(filters.externalId)}`);
  if (filters.metadata && Object.keys(filters.metadata).length) where.push(`${alias}.metadata @> ${params.add(JSON.stringify(filters.metadata))}::jsonb`);
  return where;
}

/** Whether a list is sorted by balance (its walk is then of the balance rows' index). */
export function isBalanceSort(sort: ListSort | undefined): boolean {
  return sort === 'balance' || sort === '-balance';
}

/**
 * The keysets of a list, one per sort: the default one (`list`, the list's order before
 * SPEC §15, whose cursors stay valid) and one per `sort` value, each named `list:sort` so
 * that a cursor issued for one sort is a 400 on another. Every key ends with the id.
 */
export function sortKeysets(list: string, alias: string, byDefault: readonly KeyColumn[], name: string, balance: string): Record<ListSort | 'default', Keyset> {
  const id: KeyColumn = { sql: `${alias}.id`, type: 'uuid' };
  const keys: Record<'name' | 'createdAt' | 'balance', KeyColumn[]> = {
    name: [{ sql: name, type: 'string' }, id],
    createdAt: [{ sql: `${alias}.created_at`, type: 'timestamp' }, id],
    balance: [{ sql: balance, type: 'decimal' }, id],
  };
  const sorted = (key: keyof typeof keys, direction: 'asc' | 'desc') =>
    new Keyset(`${list}:${direction === 'desc' ? '-' : ''}${key}`, keys[key], direction);
  return {
    default: new Keyset(list, byDefault),
    name: sorted('name', 'asc'),
    '-name': sorted('name', 'desc'),
    createdAt: sorted('createdAt', 'asc'),
    '-createdAt': sorted('createdAt', 'desc'),
    balance: sorted('balance', 'asc'),
    '-balance': sorted('balance', 'desc'),
  };
}
