import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { FindOptions, Visible } from '../database/access';
import { Keyset } from '../database/keyset';
import { returnedRows, SqlParams } from '../database/sql';
import type { Tx } from '../database/writes';
import { Cursors, Page } from '../common/pagination';
import { Caller } from '../tree/caller';

export interface RoutingGroupRow {
  id: string;
  name: string;
  description: string;
  policy: string;
  version: number;
  created_at: Date;
  updated_at: Date;
}

export interface RoutingGroupFields {
  name?: string;
  description?: string;
  policy?: string;
}

const COLUMNS = `g.id, g.name, g.description, g.policy, g.version, g.created_at, g.updated_at`;
const KEYSET = new Keyset('routing-groups', [
  { sql: 'g.name', type: 'string' },
  { sql: 'g.id', type: 'uuid' },
]);

/**
 * Every SQL text about routing groups. They are system-wide (SPEC §8): there is no subtree to
 * apply, the right (system.read / system.write) is what gates them, checked by the service.
 * Deleting a group also detaches the deleted customers and accounts that still name it.
 */
@Injectable()
export class RoutingGroupsRepository implements Visible<RoutingGroupRow> {
  constructor(
    private readonly dataSource: DataSource,
    private readonly cursors: Cursors,
  ) {}

  private db(tx?: Tx): Tx {
    return tx ?? this.dataSource.manager;
  }

  /** Every group is visible to a caller allowed to read them at all (the service checks the right). */
  async findVisible(_caller: Caller, id: string, options: FindOptions = {}): Promise<RoutingGroupRow | undefined> {
    const rows: RoutingGroupRow[] = await this.db(options.tx).query(
      `SELECT ${COLUMNS} FROM routing_groups g WHERE g.id = $1 ${options.lock ?? ''}`,
      [id],
    );
    return rows[0];
  }

  /**
   * For a customer or account naming the group, whoever the caller: whether it exists, locked
   * FOR KEY SHARE until the transaction ends (a concurrent delete, FOR UPDATE, waits for it).
   */
  async unscopedExistsKeyShared(tx: Tx, id: string): Promise<boolean> {
    const rows: unknown[] = await tx.query(`SELECT 1 FROM routing_groups WHERE id = $1 FOR KEY SHARE`, [id]);
    return rows.length > 0;
  }

  async page(_caller: Caller, limit: number, cursor?: string): Promise<Page<RoutingGroupRow>> {
    const params = new SqlParams();
    const after = await KEYSET.after(this.cursors, cursor, params);
    const rows: RoutingGroupRow[] = await this.dataSource.query(
      `SELECT ${COLUMNS}, ${KEYSET.select()} FROM routing_groups g
        ${after ? `WHERE ${after}` : ''}
        ${KEYSET.orderAndLimit(limit, params)}`,
      params.values,
    );
    return KEYSET.page(this.cursors, rows, limit, (r) => r);
  }

  async insert(_caller: Caller, tx: Tx, fields: Required<Pick<RoutingGroupFields, 'name' | 'policy'>> & RoutingGroupFields): Promise<RoutingGroupRow> {
    const rows: RoutingGroupRow[] = await tx.query(
      `INSERT INTO routing_groups AS g (name, description, policy) VALUES ($1, $2, $3) RETURNING ${COLUMNS}`,
      [fields.name, fields.description ?? '', fields.policy],
    );
    return rows[0];
  }

  async update(_caller: Caller, tx: Tx, id: string, fields: RoutingGroupFields): Promise<RoutingGroupRow> {
    const rows = returnedRows<RoutingGroupRow>(
      await tx.query(
        `UPDATE routing_groups g SET name = COALESCE($2, g.name), description = COALESCE($3, g.description),
                policy = COALESCE($4, g.policy), version = g.version + 1, updated_at = now()
          WHERE g.id = $1 RETURNING ${COLUMNS}`,
        [id, fields.name ?? null, fields.description ?? null, fields.policy ?? null],
      ),
    );
    return rows[0];
  }

  /** Live customers and accounts that use the group (a group in use cannot be deleted). */
  async usage(_caller: Caller, tx: Tx, id: string): Promise<{ customers: number; accounts: number }> {
    const [usage]: Array<{ customers: number; accounts: number }> = await tx.query(
      `SELECT (SELECT count(*)::int FROM customers WHERE routing_group_id = $1 AND deleted_at IS NULL) AS customers,
              (SELECT count(*)::int FROM accounts WHERE routing_group_id = $1 AND deleted_at IS NULL) AS accounts`,
      [id],
    );
    return usage;
  }

  /** Deleted customers and accounts keep their history; their reference goes with the group. */
  async delete(_caller: Caller, tx: Tx, id: string): Promise<void> {
    await tx.query(`UPDATE customers SET routing_group_id = NULL WHERE routing_group_id = $1`, [id]);
    await tx.query(`UPDATE accounts SET routing_group_id = NULL WHERE routing_group_id = $1`, [id]);
    await tx.query(`DELETE FROM routing_groups WHERE id = $1`, [id]);
  }
}
