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

/** What an account principal is made of: the live account, its customer's place and status. */
export interface AccountCallerRow {
  id: string;
  /** The account's customer's path: never the caller's path, only what invalidates its cache entry. */
  customer_path: string;
  customer_depth: number;
  base_currency: string;
  language: string;
  auth_epoch: number;
  /** Blocked, or its customer (or an ancestor) suspended. */
  refused: boolean;
}

/** The account a SIP username names, with what an account login checks. */
export interface AccountLoginRow {
  id: string;
  customer_id: string;
  customer_path: string;
  web_password_hash: string;
  auth_epoch: number;
  /** Blocked, or its customer (or an ancestor) suspended. */
  refused: boolean;
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

  /** The live account of a live customer, with whether it is blocked or below a suspension (one indexed query). */
  async unscopedFindAccountCaller(accountId: string): Promise<AccountCallerRow | undefined> {
    const rows: AccountCallerRow[] = await this.dataSource.query(
      `SELECT a.id, c.path AS customer_path, c.depth AS customer_depth, c.base_currency, a.language, a.auth_epoch,
              (a.status <> 'active' OR ${pathSuspendedSql('c.path')}) AS refused
         FROM accounts a JOIN customers c ON c.id = a.customer_id AND c.deleted_at IS NULL
        WHERE a.id = $1 AND a.deleted_at IS NULL`,
      [accountId],
    );
    return rows[0];
  }

  /** The live account with this SIP username (exact, as the switch matches it), whatever its place in the tree. */
  async unscopedFindAccountForLogin(username: string): Promise<AccountLoginRow | undefined> {
    const rows: AccountLoginRow[] = await this.dataSource.query(
      `SELECT a.id, a.customer_id, c.path AS customer_path, a.web_password_hash, a.auth_epoch,
              (a.status <> 'active' OR ${pathSuspendedSql('c.path')}) AS refused
         FROM accounts a JOIN customers c ON c.id = a.customer_id AND c.deleted_at IS NULL
        WHERE a.username = $1 AND a.deleted_at IS NULL`,
      [username],
    );
    return rows[0];
  }
}
