import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { intersectGrants, isPermission, Permission } from '../permissions/permission.catalogue';
import { Caller } from '../tree/caller';
import { pathNodeIdsSql } from '../tree/scope';

export interface AccessTokenClaims {
  sub: string;
  /** The customer's auth epoch when the token was issued; bumped by a password change etc. */
  ver: number;
  /** API key the token was exchanged for, if any. */
  kid?: string;
}

interface CallerRow {
  id: string;
  path: string;
  depth: number;
  base_currency: string;
  /** The customer or an ancestor is suspended (effective status, from the path). */
  suspended: boolean | null;
  auth_epoch: number;
  chain: string[][] | null;
  key_permissions: string[] | null;
  key_live: boolean | null;
  rates: Record<string, string> | null;
}

/**
 * Turns verified token claims into a Caller with one indexed query: the customer, the
 * grants of every ancestor on its path (for effective rights), their statuses (for the
 * effective status) and, for a key, the key. Returns null when the customer is gone,
 * suspended itself or below a suspended ancestor, its credentials changed, or the key
 * was revoked or expired: access is cut on the very next request.
 */
@Injectable()
export class CallerResolver {
  constructor(private readonly dataSource: DataSource) {}

  async resolve(claims: AccessTokenClaims): Promise<Caller | null> {
    // One pass over the path (node ids from the root down to the customer itself, each an
    // index lookup) gives both the grants to intersect and the effective status.
    const rows: CallerRow[] = await this.dataSource.query(
      `SELECT c.id, c.path, c.depth, c.base_currency, c.auth_epoch, p.chain, p.suspended,
              k.permissions AS key_permissions,
              (k.id IS NOT NULL AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now())) AS key_live,
              (SELECT json_object_agg(trim(r.currency), r.rate::text) FROM exchange_rates r WHERE r.customer_id = c.id) AS rates
         FROM customers c
        CROSS JOIN LATERAL (
              SELECT json_agg(a.permissions ORDER BY a.depth) FILTER (WHERE a.parent_id IS NOT NULL) AS chain,
                     bool_or(a.status <> 'active') AS suspended
                FROM customers a
               WHERE a.node_id = ANY (${pathNodeIdsSql('c.path')})) p
         LEFT JOIN api_keys k ON k.id = $2 AND k.customer_id = c.id
        WHERE c.id = $1 AND c.deleted_at IS NULL`,
      [claims.sub, claims.kid ?? null],
    );
    const row = rows[0];
    // Suspended (itself or any ancestor), credentials changed since the token, or the key gone.
    if (!row || row.suspended !== false || row.auth_epoch !== claims.ver) return null;
    if (claims.kid && !row.key_live) return null;
    const chain: ReadonlyArray<readonly string[]> = row.chain ?? [];
    let permissions = intersectGrants(chain);
    if (claims.kid && row.key_permissions) {
      const keyGrants = new Set(row.key_permissions.filter(isPermission));
      permissions = new Set([...permissions].filter((p: Permission) => keyGrants.has(p)));
    }
    return {
      customerId: row.id,
      path: row.path,
      depth: row.depth,
      baseCurrency: row.base_currency.trim(),
      isRoot: row.depth === 0,
      permissions,
      exchangeRates: new Map(Object.entries(row.rates ?? {})),
      authMethod: claims.kid ? 'api-key' : 'password',
      apiKeyId: claims.kid ?? null,
    };
  }
}
