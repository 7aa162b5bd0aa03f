import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Cursors, Page } from '../common/pagination';
import type { FindOptions, Visible } from '../database/access';
import { Keyset } from '../database/keyset';
import { SqlParams } from '../database/sql';
import type { Tx } from '../database/writes';
import { Caller } from '../tree/caller';
import { pathSuspendedSql } from '../tree/scope';

export interface ApiKeyRow {
  id: string;
  name: string;
  prefix: string;
  permissions: string[] | null;
  expires_at: Date | null;
  last_used_at: Date | null;
  created_at: Date;
  /** Keys are never edited, only revoked: no version (no If-Match). */
  version?: undefined;
}

export interface NewApiKey {
  name: string;
  prefix: string;
  secretHash: string;
  permissions: string[] | null;
  expiresAt: Date | null;
}

/** A live, unexpired key found by its prefix, with what the exchange checks. */
export interface ApiKeyForExchange {
  id: string;
  customer_id: string;
  secret_hash: string;
  auth_epoch: number;
  /** The owner or an ancestor is suspended. */
  suspended: boolean;
}

const COLUMNS = 'k.id, k.name, k.prefix, k.permissions, k.expires_at, k.last_used_at, k.created_at';

/** The caller's live keys, oldest first. */
const LIVE_KEYS = new Keyset('api-keys', [
  { sql: 'k.created_at', type: 'timestamp' },
  { sql: 'k.id', type: 'uuid' },
]);

/**
 * API keys. A caller sees its own live keys only (never those of its descendants), so the
 * scope of every caller-first method here is `customer_id = caller`.
 */
@Injectable()
export class ApiKeysRepository implements Visible<ApiKeyRow> {
  constructor(
    private readonly dataSource: DataSource,
    private readonly cursors: Cursors,
  ) {}

  async findVisible(caller: Caller, id: string, options: FindOptions = {}): Promise<ApiKeyRow | undefined> {
    const rows: ApiKeyRow[] = await (options.tx ?? this.dataSource.manager).query(
      `SELECT ${COLUMNS} FROM api_keys k WHERE k.id = $1 AND k.customer_id = $2 AND k.revoked_at IS NULL ${options.lock ?? ''}`,
      [id, caller.customerId],
    );
    return rows[0];
  }

  async insert(caller: Caller, tx: Tx, key: NewApiKey): Promise<ApiKeyRow> {
    const rows: ApiKeyRow[] = await tx.query(
      `INSERT INTO api_keys AS k (customer_id, name, prefix, secret_hash, permissions, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6)
       RETURNING ${COLUMNS}`,
      [caller.customerId, key.name, key.prefix, key.secretHash, key.permissions, key.expiresAt],
    );
    return rows[0];
  }

  /** A page of the caller's live keys; a cursor not issued for this list is a 400. */
  async pageLive<T>(caller: Caller, limit: number, cursor: string | undefined, map: (row: ApiKeyRow) => T): Promise<Page<T>> {
    const params = new SqlParams();
    const conditions = [`k.customer_id = ${params.add(caller.customerId)}`, 'k.revoked_at IS NULL'];
    const after = await LIVE_KEYS.after(this.cursors, cursor, params);
    if (after) conditions.push(after);
    const rows: ApiKeyRow[] = await this.dataSource.query(
      `SELECT ${COLUMNS}, ${LIVE_KEYS.select()} FROM api_keys k WHERE ${conditions.join(' AND ')} ${LIVE_KEYS.orderAndLimit(limit, params)}`,
      params.values,
    );
    return LIVE_KEYS.page(this.cursors, rows, limit, map);
  }

  /** Revokes one of the caller's live keys (its refresh tokens are the caller's to revoke too). */
  async revoke(caller: Caller, tx: Tx, id: string): Promise<void> {
    const params = new SqlParams();
    await this.revokeWhere(tx, `id = ${params.add(id)} AND customer_id = ${params.add(caller.customerId)}`, params);
  }

  /** Revokes every live key of a customer whose removal the caller's service has already allowed. */
  async unscopedRevokeAllOf(tx: Tx, customerId: string): Promise<void> {
    const params = new SqlParams();
    await this.revokeWhere(tx, `customer_id = ${params.add(customerId)}`, params);
  }

  private async revokeWhere(tx: Tx, condition: string, params: SqlParams): Promise<void> {
    await tx.query(`UPDATE api_keys SET revoked_at = now() WHERE revoked_at IS NULL AND ${condition}`, params.values);
  }

  /**
   * The live, unexpired key with this prefix and its owner's state. The key is the only
   * credential of an exchange: there is no caller yet to scope by.
   */
  async unscopedFindForExchange(prefix: string): Promise<ApiKeyForExchange | undefined> {
    const rows: ApiKeyForExchange[] = await this.dataSource.query(
      `SELECT k.id, k.customer_id, k.secret_hash, c.auth_epoch, ${pathSuspendedSql('c.path')} AS suspended
         FROM api_keys k JOIN customers c ON c.id = k.customer_id AND c.deleted_at IS NULL
        WHERE k.prefix = $1 AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now())`,
      [prefix],
    );
    return rows[0];
  }

  /** Notes a successful exchange (not a change: not audited). */
  async unscopedTouch(id: string): Promise<void> {
    await this.dataSource.query(`UPDATE api_keys SET last_used_at = now() WHERE id = $1`, [id]);
  }
}
