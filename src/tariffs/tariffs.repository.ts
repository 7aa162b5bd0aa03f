import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { FindOptions, Visible } from '../database/access';
import { Keyset } from '../database/keyset';
import { affectedRows, returnedRows, SqlParams } from '../database/sql';
import type { Tx } from '../database/writes';
import { Cursors, Page } from '../common/pagination';
import { Caller } from '../tree/caller';
import { subtreeCondition } from '../tree/scope';

export interface TariffRow {
  id: string;
  /** Path of the owner (never sent to clients): audit events are scoped by it. */
  owner_path: string;
  owner_id: string;
  name: string;
  currency: string;
  description: string;
  connect_fee: string;
  free_seconds: number;
  version: number;
  created_at: Date;
  updated_at: Date;
}

export interface NewTariff {
  ownerId: string;
  name: string;
  currency: string;
  description: string;
  connectFee: string;
  freeSeconds: number;
}

/** The fields a PATCH may change; absent ones stay as they are. */
export interface TariffPatch {
  name?: string;
  description?: string;
  connectFee?: string;
  freeSeconds?: number;
}

/** Selected from `tariffs t JOIN customers o ON o.id = t.owner_id`. */
const COLUMNS = `t.id, t.owner_id, t.name, t.currency, t.description, t.connect_fee, t.free_seconds, t.version,
  t.created_at, t.updated_at, o.path AS owner_path`;

/** Oldest first; the id breaks ties. */
const LIST = new Keyset('tariffs', [
  { sql: 't.created_at', type: 'timestamp' },
  { sql: 't.id', type: 'uuid' },
]);

/**
 * Queries on tariffs. A tariff is visible exactly when its owner lies in the caller's subtree,
 * the caller itself included (SPEC §4): every query joins the owner and goes through the scope
 * helper. No rules here.
 */
@Injectable()
export class TariffsRepository implements Visible<TariffRow> {
  constructor(
    private readonly dataSource: DataSource,
    private readonly cursors: Cursors,
  ) {}

  /** The tariff if its owner is in the caller's subtree, else undefined (the one 404). */
  async findVisible(caller: Caller, id: string, options: FindOptions = {}): Promise<TariffRow | undefined> {
    const params = new SqlParams();
    const rows: TariffRow[] = await (options.tx ?? this.dataSource.manager).query(
      `SELECT ${COLUMNS} FROM tariffs t JOIN customers o ON o.id = t.owner_id
        WHERE t.id = ${params.add(id)} AND ${subtreeCondition('o', caller, params, options.mode ?? 'self-and-descendants')}
        ${options.lock ? `${options.lock} OF t` : ''}`,
      params.values,
    );
    return rows[0];
  }

  /**
   * THE tariff-owner check: whether the tariff exists, is owned by `ownerId` and that owner is
   * visible to the caller. FOR KEY SHARE: the tariff cannot be deleted (nor its owner changed)
   * until the caller's transaction ends, so a customer or account being put on it is counted by
   * a concurrent DELETE (409 tariff-in-use) instead of failing on the foreign key.
   */
  async isOwnedBy(caller: Caller, tariffId: string, ownerId: string, tx: Tx): Promise<boolean> {
    const params = new SqlParams();
    const rows: unknown[] = await tx.query(
      `SELECT 1 FROM tariffs t JOIN customers o ON o.id = t.owner_id
        WHERE t.id = ${params.add(tariffId)} AND t.owner_id = ${params.add(ownerId)}
          AND ${subtreeCondition('o', caller, params, 'self-and-descendants')}
        FOR KEY SHARE OF t`,
      params.values,
    );
    return rows.length > 0;
  }

  /** A page of the visible tariffs (of one owner when `ownerId` is given), oldest first. */
  async list(caller: Caller, filter: { ownerId?: string }, cursor: string | undefined, limit: number): Promise<Page<TariffRow>> {
    const params = new SqlParams();
    const where = [subtreeCondition('o', caller, params, 'self-and-descendants')];
    if (filter.ownerId) where.push(`t.owner_id = ${params.add(filter.ownerId)}`);
    const after = await LIST.after(this.cursors, cursor, params);
    if (after) where.push(after);
    const rows: TariffRow[] = await this.dataSource.query(
      `SELECT ${COLUMNS}, ${LIST.select()} FROM tariffs t JOIN customers o ON o.id = t.owner_id
        WHERE ${where.join(' AND ')} ${LIST.orderAndLimit(limit, params)}`,
      params.values,
    );
    return LIST.page(this.cursors, rows, limit, (row) => row);
  }

  /** Creates a tariff for a visible owner (undefined when the owner is not visible); a taken name is a unique violation. */
  async insert(caller: Caller, tx: Tx, tariff: NewTariff): Promise<TariffRow | undefined> {
    const params = new SqlParams();
    const rows: TariffRow[] = await tx.query(
      `WITH o AS (
         SELECT o.id, o.path FROM customers o
          WHERE o.id = ${params.add(tariff.ownerId)} AND ${subtreeCondition('o', caller, params, 'self-and-descendants')}
       ), t AS (
         INSERT INTO tariffs (owner_id, name, currency, description, connect_fee, free_seconds)
         SELECT o.id, ${params.add(tariff.name)}, ${params.add(tariff.currency)}, ${params.add(tariff.description)},
                ${params.add(tariff.connectFee)}::numeric, ${params.add(tariff.freeSeconds)}::int
           FROM o
         RETURNING *
       )
       SELECT ${COLUMNS} FROM t JOIN o ON o.id = t.owner_id`,
      params.values,
    );
    return rows[0];
  }

  /** Applies a patch to a visible tariff (undefined when not visible); bumps its version. */
  async update(caller: Caller, tx: Tx, id: string, patch: TariffPatch): Promise<TariffRow | undefined> {
    const params = new SqlParams();
    const result: unknown = await tx.query(
      `UPDATE tariffs t SET name = COALESCE(${params.add(patch.name ?? null)}, t.name),
              description = COALESCE(${params.add(patch.description ?? null)}, t.description),
              connect_fee = COALESCE(${params.add(patch.connectFee ?? null)}::numeric, t.connect_fee),
              free_seconds = COALESCE(${params.add(patch.freeSeconds ?? null)}::int, t.free_seconds),
              version = t.version + 1, updated_at = now()
         FROM customers o
        WHERE t.id = ${params.add(id)} AND o.id = t.owner_id AND ${subtreeCondition('o', caller, params, 'self-and-descendants')}
        RETURNING ${COLUMNS}`,
      params.values,
    );
    return returnedRows<TariffRow>(result)[0];
  }

  /** How many live customers and accounts are sold on the visible tariff (a tariff in use cannot be deleted). */
  async liveAssignments(caller: Caller, tx: Tx, id: string): Promise<{ customers: number; accounts: number }> {
    const params = new SqlParams();
    const tariff = params.add(id);
    const rows: Array<{ customers: string; accounts: string }> = await tx.query(
      `SELECT (SELECT count(*) FROM customers WHERE tariff_id = ${tariff} AND deleted_at IS NULL) AS customers,
              (SELECT count(*) FROM accounts WHERE tariff_id = ${tariff} AND deleted_at IS NULL) AS accounts
        WHERE ${tariffInScope(caller, tariff, params)}`,
      params.values,
    );
    return { customers: Number(rows[0]?.customers ?? 0), accounts: Number(rows[0]?.accounts ?? 0) };
  }

  /**
   * Deletes a visible tariff (its rates go with it); deleted customers and accounts keep their
   * history, and their reference to it is cleared first. Returns whether it was deleted.
   */
  async delete(caller: Caller, tx: Tx, id: string): Promise<boolean> {
    const params = new SqlParams();
    const tariff = params.add(id);
    const inScope = tariffInScope(caller, tariff, params);
    await tx.query(`UPDATE customers SET tariff_id = NULL WHERE tariff_id = ${tariff} AND deleted_at IS NOT NULL AND ${inScope}`, params.values);
    await tx.query(`UPDATE accounts SET tariff_id = NULL WHERE tariff_id = ${tariff} AND deleted_at IS NOT NULL AND ${inScope}`, params.values);
    return affectedRows(await tx.query(`DELETE FROM tariffs WHERE id = ${tariff} AND ${inScope}`, params.values)) > 0;
  }
}

/**
 * SQL: true when the tariff `tariffParam` is visible to the caller (its owner in the caller's
 * subtree). Uncorrelated, so PostgreSQL evaluates it once per statement (an InitPlan), however
 * many rows the statement touches.
 */
export function tariffInScope(caller: Caller, tariffParam: string, params: SqlParams): string {
  return `EXISTS (SELECT 1 FROM tariffs vt JOIN customers vo ON vo.id = vt.owner_id
                   WHERE vt.id = ${tariffParam} AND ${subtreeCondition('vo', caller, params, 'self-and-descendants')})`;
}
