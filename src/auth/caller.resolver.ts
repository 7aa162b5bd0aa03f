import { Injectable } from '@nestjs/common';
import { intersectGrants, isPermission, Permission } from '../permissions/permission.catalogue';
import { Caller } from '../tree/caller';
import { CallersRepository } from './callers.repository';

export interface AccessTokenClaims {
  sub: string;
  /** The customer's auth epoch when the token was issued; bumped by a password change etc. */
  ver: number;
  /** API key the token was exchanged for, if any. */
  kid?: string;
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
  constructor(private readonly callers: CallersRepository) {}

  async resolve(claims: AccessTokenClaims): Promise<Caller | null> {
    const row = await this.callers.unscopedFindCaller(claims.sub, claims.kid ?? null);
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
      baseCurrency: row.base_currency,
      isRoot: row.depth === 0,
      permissions,
      exchangeRates: new Map(Object.entries(row.rates ?? {})),
      authMethod: claims.kid ? 'api-key' : 'password',
      apiKeyId: claims.kid ?? null,
    };
  }
}
