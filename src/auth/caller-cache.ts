import { Caller } from '../tree/caller';
import type { CallerChangeSubscriber } from '../database/notifications';

/** A resolved caller as cached: the Caller and what decides, per request, whether it still holds. */
export interface CachedCaller {
  caller: Caller;
  /** The customer's auth epoch when read: a token of another epoch is not this caller. */
  authEpoch: number;
  /** The API key's expiry (ms since the epoch), checked on every hit; null: none, or no key. */
  keyExpiresAt: number | null;
  /**
   * The path whose nodes' changes evict this entry: the customer's own, or for an account
   * principal its customer's (whose suspension, or an ancestor's, cuts the account).
   */
  treePath: string;
}

interface Entry extends CachedCaller {
  storedAt: number;
}

/**
 * Resolved callers in memory, per instance: an LRU of `size` entries keyed by (customer, API
 * key), or by account for account principals. Entries are dropped by invalidation (`changed`),
 * never merely by age: the database's triggers NOTIFY every change of what a caller holds
 * (src/database/notifications.ts), and the instance that made a change evicts at once after
 * its commit. `maxAgeMs` is only a backstop.
 *
 * Two rules keep a stale caller out:
 * - a resolve stores its result only if no invalidation happened since it started reading
 *   (`generation`, taken before the read and compared at `store`): a read that raced a
 *   change is used once, never kept;
 * - nothing is kept while the listener is down (notifications could be lost): losing it
 *   empties the cache, and caching resumes only once LISTEN is in place again.
 */
export class CallerCache implements CallerChangeSubscriber {
  private readonly entries = new Map<string, Entry>();
  private generation = 0;
  private live = false;

  constructor(
    readonly size: number,
    private readonly maxAgeMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  get enabled(): boolean {
    return this.size > 0;
  }

  /** Number of cached callers (tests, metrics). */
  get count(): number {
    return this.entries.size;
  }

  /** Taken before reading a caller from the database; handed back to `store`. */
  begin(): number {
    return this.generation;
  }

  /** The cached caller of this key (`cacheKey`). */
  get(key: string): CachedCaller | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (!this.live || this.now() - entry.storedAt >= this.maxAgeMs) {
      this.entries.delete(key);
      return undefined;
    }
    // Most recently used goes last: the first entry of the Map is the one evicted when full.
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry;
  }

  /** Keeps a caller read since `generation` was taken, unless something was invalidated meanwhile. */
  store(generation: number, cached: CachedCaller): boolean {
    if (!this.enabled || !this.live || generation !== this.generation) return false;
    const key = cacheKeyOf(cached.caller);
    this.entries.delete(key);
    this.entries.set(key, { ...cached, storedAt: this.now() });
    if (this.entries.size > this.size) this.entries.delete(this.entries.keys().next().value!);
    return true;
  }

  changed(payloads: readonly string[]): void {
    this.generation++;
    if (this.entries.size === 0) return;
    // `*` (a TRUNCATE) or anything this version does not know: drop everything.
    if (payloads.some((p) => !/^[nkca]:./.test(p))) {
      this.entries.clear();
      return;
    }
    const nodes = payloads.filter((p) => p.startsWith('n:')).map((p) => `/${p.slice(2)}/`);
    const keys = new Set(payloads.filter((p) => p.startsWith('k:')).map((p) => p.slice(2)));
    const customers = new Set(payloads.filter((p) => p.startsWith('c:')).map((p) => p.slice(2)));
    const accounts = new Set(payloads.filter((p) => p.startsWith('a:')).map((p) => p.slice(2)));
    for (const [key, { caller, treePath }] of this.entries) {
      if (
        customers.has(caller.customerId) ||
        (caller.apiKeyId !== null && keys.has(caller.apiKeyId)) ||
        (caller.accountId !== null && accounts.has(caller.accountId)) ||
        nodes.some((node) => treePath.includes(node))
      ) {
        this.entries.delete(key);
      }
    }
  }

  listening(up: boolean): void {
    this.generation++;
    this.live = up;
    this.entries.clear();
  }
}

/** The cache key of a customer (and API key), or of an account principal (`a:` + its id). */
export function cacheKey(kind: 'customer' | 'account', id: string, apiKeyId: string | null): string {
  if (kind === 'account') return `a:${id}`;
  return apiKeyId ? `${id}:${apiKeyId}` : id;
}

function cacheKeyOf(caller: Caller): string {
  return caller.kind === 'account' ? cacheKey('account', caller.accountId!, null) : cacheKey('customer', caller.customerId, caller.apiKeyId);
}
