import { Inject, Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '../config/config';
import { CallerChanges } from '../database/notifications';
import { intersectGrants, isPermission, Permission } from '../permissions/permission.catalogue';
import { ACCOUNT_PATH, Caller } from '../tree/caller';
import { CallerCache, cacheKey } from './caller-cache';
import { AccountCallerRow, CallerRow, CallersRepository } from './callers.repository';

export interface AccessTokenClaims {
  sub: string;
  /** The customer's auth epoch when the token was issued; bumped by a password change etc. */
  ver: number;
  /** API key the token was exchanged for, if any. */
  kid?: string;
  /** 'account': `sub` is an account (an account principal, SPEC §2 "Account self-care"); absent: a customer. */
  knd?: 'account';
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
    if (claims.knd === 'account') return this.resolveAccount(claims);
    const apiKeyId = claims.kid ?? null;
    const hit = this.cache.get(cacheKey('customer', claims.sub, apiKeyId));
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
    this.cache.store(generation, {
      caller,
      authEpoch: row.auth_epoch,
      keyExpiresAt: apiKeyId ? (row.key_expires_at?.getTime() ?? null) : null,
      treePath: row.path,
    });
    // Credentials changed since the token (the caller itself is kept, for the current tokens).
    return row.auth_epoch === claims.ver ? caller : null;
  }

  /**
   * An account principal: refused when the account is gone or blocked, its customer gone or
   * (effectively) suspended, or its password changed since the token; cached and evicted
   * like customers (`a:<account>` for the account's own columns, `n:<node>` for its customer
   * and the ancestors).
   */
  private async resolveAccount(claims: AccessTokenClaims): Promise<Caller | null> {
    if (claims.kid !== undefined) return null;
    const hit = this.cache.get(cacheKey('account', claims.sub, null));
    if (hit && claims.ver <= hit.authEpoch) return claims.ver === hit.authEpoch ? hit.caller : null;
    const generation = this.cache.begin();
    const row = await this.callers.unscopedFindAccountCaller(claims.sub);
    if (!row || row.refused !== false) return null;
    const caller = toAccountCaller(row);
    this.cache.store(generation, { caller, authEpoch: row.auth_epoch, keyExpiresAt: null, treePath: row.customer_path });
    return row.auth_epoch === claims.ver ? caller : null;
  }
}

/**
 * An account principal, made to match no customer row (src/tree/caller.ts): no permissions,
 * its own id where a customer id would be, a path no customer lies under, never the root.
 */
function toAccountCaller(row: AccountCallerRow): Caller {
  return {
    kind: 'account',
    customerId: row.id,
    accountId: row.id,
    path: ACCOUNT_PATH,
    // Where the account sits (one below its customer): only the calls' charges read it, and
    // only its own charge lies at that depth on its own calls.
    depth: row.customer_depth + 1,
    baseCurrency: row.base_currency,
    language: row.language,
    isRoot: false,
    permissions: new Set(),
    exchangeRates: new Map(),
    authMethod: 'password',
    apiKeyId: null,
  };
}

function toCaller(row: CallerRow, apiKeyId: string | null): Caller {
  const chain: ReadonlyArray<readonly string[]> = row.chain ?? [];
  let permissions = intersectGrants(chain);
  if (apiKeyId && row.key_permissions) {
    const keyGrants = new Set(row.key_permissions.filter(isPermission));
    permissions = new Set([...permissions].filter((p: Permission) => keyGrants.has(p)));
  }
  return {
    kind: 'customer',
    customerId: row.id,
    accountId: null,
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
