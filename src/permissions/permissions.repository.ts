import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { FindOptions, Visible } from '../database/access';
import { returnedRows, SqlParams } from '../database/sql';
import type { Tx } from '../database/writes';
import { Caller } from '../tree/caller';
import { pathNodeIds, subtreeCondition } from '../tree/scope';

/** A customer's own grants (the `permissions` column of customers) and where it sits. */
export interface GrantsRow {
  id: string;
  path: string;
  depth: number;
  permissions: string[];
  version: number;
}

const COLUMNS = 'c.id, c.path, c.depth, c.permissions, c.version';

/** Grants are stored on customers; this owns every query about them. No rules here. */
@Injectable()
export class PermissionsRepository implements Visible<GrantsRow> {
  constructor(private readonly dataSource: DataSource) {}

  /** The grants of a live customer in the caller's scope (itself included unless `mode` says otherwise). */
  async findVisible(caller: Caller, id: string, options: FindOptions = {}): Promise<GrantsRow | undefined> {
    const params = new SqlParams();
    const rows: GrantsRow[] = await (options.tx ?? this.dataSource.manager).query(
      `SELECT ${COLUMNS} FROM customers c
        WHERE c.id = ${params.add(id)} AND ${subtreeCondition('c', caller, params, options.mode ?? 'self-and-descendants')} ${options.lock ?? ''}`,
      params.values,
    );
    return rows[0];
  }

  /**
   * The grants of every customer on a path below the root, from the top down: what effective
   * rights are made of. Deliberately unscoped: the ancestors above the caller count too.
   */
  async unscopedGrantsOnPath(path: string): Promise<string[][]> {
    const rows: Array<{ permissions: string[] }> = await this.dataSource.query(
      `SELECT permissions FROM customers WHERE node_id = ANY($1::bigint[]) AND parent_id IS NOT NULL ORDER BY depth`,
      [pathNodeIds(path)],
    );
    return rows.map((r) => r.permissions);
  }

  /** Replaces the grants of a descendant of the caller; the row as it is now. */
  async replace(caller: Caller, tx: Tx, id: string, permissions: readonly string[]): Promise<GrantsRow> {
    const params = new SqlParams();
    const rows = returnedRows<GrantsRow>(
      await tx.query(
        `UPDATE customers c SET permissions = ${params.add(permissions)}, version = version + 1, updated_at = now()
          WHERE c.id = ${params.add(id)} AND ${subtreeCondition('c', caller, params, 'descendants')}
          RETURNING ${COLUMNS}`,
        params.values,
      ),
    );
    return rows[0];
  }
}
