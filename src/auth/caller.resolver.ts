import { Inject, Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '../config/config';
import { CallerChanges } from '../database/notifications';
import { intersectGrants, isPermission, Permission } from '../permissions/permission.catalogue';
import { Caller } from '../tree/caller';
import { CallerCache } from './caller-cache';
import { CallerRow, CallersRepository } from './callers.repository';

export interface AccessTokenClaims {
  sub: string;
  /** The customer's auth epoch when the token was issued; bumped by a password change etc. */
  ver: number;
  /** API key the token was exchanged for, if any. */
  kid?: string;
}

/**
 * Turns verified token claims into a Caller: from the caller cache when it holds this
 * (customer, key), else with one indexed query — the customer, the grants of every ancestor
 * on its path (for effective rights), their statuses (for the effective status) and, for a
 * key, the key. Returns null when the customer is gone, suspended itself or below a suspended
 * ancestor, its credentials changed, or the key was revoked or expired: access is cut on the
 * very next request (the cache is invalidated by the database's own notifications and, on the
 * instance that made the change, at its commit; see caller-cache.ts).
 */
@Injectable()
export class CallerResolver implements OnApplicationBootstrap {
  readonly cache: CallerCache;

  constructor(
    private readonly callers: CallersRepository,
    private readonly changes: CallerChanges,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.cache = new CallerCache(config.CALLER_CACHE_SIZE, config.CALLER_CACHE_MAX_AGE_MS);
  }

  async onApplicationBootstrap(): Promise<void> {
    if (this.cache.enabled) await this.changes.start(this.cache);
  }

  async resolve(claims: AccessTokenClaims): Promise<Caller | null> {
    const apiKeyId = claims.kid ?? null;
    const hit = this.cache.get(claims.sub, apiKeyId);
    // A token of an older epoch is refused; of a newer one (issued after a change this
    // instance may not have heard of yet), it is read again.
    if (hit && claims.ver <= hit.authEpoch) {
      if (claims.ver !== hit.authEpoch) return null;
      if (hit.keyExpiresAt !== null && hit.keyExpiresAt <= Date.now()) return null;
      return hit.caller;
    }
    const generation = this.cache.begin();
    const row = await this.callers.unscopedFindCaller(claims.sub, apiKeyId);
    if (!row || row.suspended !== false) return null;
    if (apiKeyId && !row.key_live) return null;
    const caller = toCaller(row, apiKeyId);
    this.cache.store(generation, { caller, authEpoch: row.auth_epoch, keyExpiresAt: apiKeyId ? (row.key_expires_at?.getTime() ?? null) : null });
    // Credentials changed since the token (the caller itself is kept, for the current tokens).
    return row.auth_epoch === claims.ver ? caller : null;
  }
}

function toCaller(row: CallerRow, apiKeyId: string | null): Caller {
  const chain: ReadonlyArray<readonly string[]> = row.chain ?? [];
  let permissions = intersectGrants(chain);
  if (apiKeyId && row.key_permissions) {
    const keyGrants = new Set(row.key_permissions.filter(isPermission));
    permissions = new Set([...permissions].filter((p: Permission) => keyGrants.has(p)));
  }
  return {
    customerId: row.id,
    path: row.path,
    depth: row.depth,
    baseCurrency: row.base_currency,
    language: row.language,
    isRoot: row.depth === 0,
    permissions,
    exchangeRates: new Map(Object.entries(row.rates ?? {})),
    authMethod: apiKeyId ? 'api-key' : 'password',
    apiKeyId,
  };
}
