import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { pathNodeIdsSql, pathSuspendedSql } from '../tree/scope';

/** What a Caller is made of: the customer, its path's grants and statuses, the key. */
export interface CallerRow {
  id: string;
  path: string;
  depth: number;
  base_currency: string;
  language: string;
  /** The customer or an ancestor is suspended (effective status, from the path). */
  suspended: boolean | null;
  auth_epoch: number;
  /** The grants of every customer on the path below the root, from the top down. */
  chain: string[][] | null;
  key_permissions: string[] | null;
  key_live: boolean | null;
  key_expires_at: Date | null;
  rates: Record<string, string> | null;
}

/** The customer a web login names, with what a password login checks. */
export interface LoginRow {
  id: string;
  path: string;
  web_password_hash: string;
  auth_epoch: number;
  /** Suspended itself or below a suspended ancestor. */
  suspended: boolean;
}

/**
 * Who is calling: the reads that turn credentials into a caller. They run before any caller
 * exists, so they are unscoped by nature; they read the customer's whole path (grants and
 * statuses of its ancestors) because that is what effective rights and status are made of.
 */
@Injectable()
export class CallersRepository {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * One indexed query: the live customer, the grants and statuses of every customer on its
   * path (node ids from the root down to itself, each an index lookup) and, for a key, the key.
   */
  async unscopedFindCaller(customerId: string, apiKeyId: string | null): Promise<CallerRow | undefined> {
    const rows: CallerRow[] = await this.dataSource.query(
      `SELECT c.id, c.path, c.depth, c.base_currency, c.language, c.auth_epoch, p.chain, p.suspended,
              k.permissions AS key_permissions, k.expires_at AS key_expires_at,
              (k.id IS NOT NULL AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now())) AS key_live,
              (SELECT json_object_agg(r.currency, r.rate::text) FROM exchange_rates r WHERE r.customer_id = c.id) AS rates
         FROM customers c
        CROSS JOIN LATERAL (
              SELECT json_agg(a.permissions ORDER BY a.depth) FILTER (WHERE a.parent_id IS NOT NULL) AS chain,
                     bool_or(a.status <> 'active') AS suspended
                FROM customers a
               WHERE a.node_id = ANY (${pathNodeIdsSql('c.path')})) p
         LEFT JOIN api_keys k ON k.id = $2 AND k.customer_id = c.id
        WHERE c.id = $1 AND c.deleted_at IS NULL`,
      [customerId, apiKeyId],
    );
    return rows[0];
  }

  /** The live customer with this web login (case-insensitive), whatever its place in the tree. */
  async unscopedFindForLogin(login: string): Promise<LoginRow | undefined> {
    const rows: LoginRow[] = await this.dataSource.query(
      `SELECT c.id, c.path, c.web_password_hash, c.auth_epoch, ${pathSuspendedSql('c.path')} AS suspended
         FROM customers c WHERE lower(c.web_login) = lower($1) AND c.deleted_at IS NULL`,
      [login],
    );
    return rows[0];
  }
}
