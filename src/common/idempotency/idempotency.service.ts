import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { createHash, randomUUID } from 'node:crypto';
import { APP_CONFIG, AppConfig } from '../../config/config';
import { ProblemError, ValidationProblem } from '../problem/problem';
import { isOverload } from '../problem/to-problem';
import { Tx, Writes } from '../../database/writes';
import { ClaimRef, CompletedKey, FreshKeys, IdempotencyRepository, StoredResponse } from './idempotency.repository';

export const IDEMPOTENCY_HEADER = 'idempotency-key';
export const REPLAYED_HEADER = 'idempotent-replayed';
const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;
/** How long a duplicate waits for the first request with its key before answering 409. */
const IN_FLIGHT_WAIT_MS = 3000;
/** The shortest lease of a committed claim (see IdempotencyService). */
const MIN_LEASE_SECONDS = 120;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export type { StoredResponse } from './idempotency.repository';

export type IdempotencyOutcome = { kind: 'new' } | { kind: 'replay'; response: StoredResponse };
/** A key claimed for a handler (`token` proves ownership when recording), or what to replay. */
export type HandlerClaim = { kind: 'claimed'; token: string } | { kind: 'replay'; response: StoredResponse };

export function parseIdempotencyKey(value: string | string[] | undefined, required: boolean): string | undefined {
  if (Array.isArray(value)) value = value[0];
  if (value === undefined || value === '') {
    if (required) {
      throw new ValidationProblem(
        [{ parameter: 'Idempotency-Key', detail: 'Idempotency-Key header is required for balance operations' }],
        'Balance operations need an Idempotency-Key header so that a retry never applies twice.',
      );
    }
    return undefined;
  }
  if (!KEY_PATTERN.test(value)) {
    throw new ValidationProblem([{ parameter: 'Idempotency-Key', detail: 'Idempotency-Key must be 1–255 visible ASCII characters' }]);
  }
  return value;
}

/** What makes two requests "the same": method, path and the canonical JSON of the body. */
export function fingerprint(method: string, path: string, body: unknown): string {
  const canonical = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(canonical)
      : v && typeof v === 'object'
        ? Object.fromEntries(Object.keys(v as object).sort().map((k) => [k, canonical((v as Record<string, unknown>)[k])]))
        : v;
  return createHash('sha256').update(JSON.stringify([method, path, canonical(body ?? null)])).digest('hex');
}

const reusedKey = () =>
  new ProblemError(
    422,
    'idempotency-key-reused',
    'Idempotency key reused',
    'This Idempotency-Key was already used with a different request; use a new key for a new request.',
  );
const inFlight = () =>
  new ProblemError(409, 'idempotency-key-in-flight', 'Request in progress', 'A request with this Idempotency-Key is still in progress; retry later.', {
    retryAfterSeconds: 1,
  });

/**
 * THE idempotency protocol (claim → replay or run → complete), for every POST with a key.
 * Keys live in PostgreSQL (they hold across instances). A claim is taken one of two ways:
 *
 * - `claim()`, inside the work's own transaction (postings): the key is recorded with the
 *   money, so a concurrent duplicate blocks on the key's row until the first commits (then
 *   replays its response) or gives up after a short wait (409). If the first fails or its
 *   process dies, its transaction rolls back and the key is free again. `complete()` records
 *   the answer in the same transaction.
 * - `claimForHandler()`, for any other POST (the interceptor): a short committed transaction
 *   records the key as in progress (`status IS NULL`, a `claim_token` and a lease
 *   `claimed_until`); the handler then runs without any connection held for the key, and
 *   `record()` (or `release()` when it fails) ends the claim in a second short statement. A
 *   duplicate meanwhile polls for a few seconds, then replays or answers 409. A claim whose
 *   request died lapses with its lease.
 *
 * Both are the same claim and understand each other's rows: an in-progress claim is "in
 * flight" to `claim()` too, and an abandoned one (lease passed) is free for either.
 */
@Injectable()
export class IdempotencyService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(IdempotencyService.name);
  private purgeTimer?: NodeJS.Timeout;
  /** Longer than any request can run: its statements and pool waits are all bounded. */
  readonly leaseSeconds: number;

  constructor(
    private readonly keys: IdempotencyRepository,
    private readonly writes: Writes,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    this.leaseSeconds = Math.max(
      MIN_LEASE_SECONDS,
      Math.ceil((4 * config.DB_STATEMENT_TIMEOUT_MS + 4 * config.DB_POOL_TIMEOUT_MS) / 1000),
    );
  }

  /** Claims `key` for `callerId` inside the work's transaction `tx`, or returns what to replay. */
  async claim(tx: Tx, callerId: string, key: string, print: string): Promise<IdempotencyOutcome> {
    const outcome = await this.tryClaim(tx, callerId, key, print, null);
    if (outcome === 'in-flight') throw inFlight();
    if (outcome.kind === 'claimed') return { kind: 'new' };
    return outcome;
  }

  /** Records the response of a `claim()`, in the same transaction as the work it describes. */
  async complete(tx: Tx, callerId: string, key: string, response: StoredResponse): Promise<void> {
    await this.keys.complete(tx, { callerId, key, token: null }, response);
  }

  /**
   * The claim taken by `claim()`, for work that completes it within its own statement (a
   * posting: its answer, the new entry, is recorded with the money; see completeClaimSql).
   */
  claimed(callerId: string, key: string): ClaimRef {
    return { callerId, key, token: null };
  }

  /** `key` claimed already answered `status` `body` by the statement that does its work (see completedKeySql). */
  completedBy(callerId: string, key: string, fingerprint: string, status: number, body: unknown): CompletedKey {
    return { callerId, key, fingerprint, status, body, ttlHours: this.config.IDEMPOTENCY_TTL_HOURS };
  }

  /** Keys to claim and complete at once within a one-statement posting, one per entry, with these fingerprints (see freshKeysSql). */
  fresh(fingerprints: string[]): FreshKeys {
    return { fingerprints, ttlHours: this.config.IDEMPOTENCY_TTL_HOURS };
  }

  /**
   * Claims many distinct keys at once inside the work's transaction `tx` (a group of
   * postings), in one statement: the keys taken, as `callerId key`. A key not taken is known
   * (a replay, a request in progress, another body): its request takes `claim()`, which says
   * which. 'locked' when another transaction held one of them too long (`tx` is then aborted).
   */
  async claimMany(tx: Tx, claims: Array<{ callerId: string; key: string; fingerprint: string }>, lockTimeoutMs: number): Promise<Set<string> | 'locked'> {
    return this.keys.tryClaimMany(tx, claims, this.config.IDEMPOTENCY_TTL_HOURS, lockTimeoutMs);
  }

  /**
   * Claims `key` in a short transaction of its own, committed before the handler runs. A
   * duplicate of a request in progress waits (polling) for its answer, up to a few seconds.
   */
  async claimForHandler(callerId: string, key: string, print: string): Promise<HandlerClaim> {
    const deadline = Date.now() + IN_FLIGHT_WAIT_MS;
    for (let delay = 20; ; delay = Math.min(delay * 2, 250)) {
      const token = randomUUID();
      const outcome = await this.writes.unauditedTransaction((tx) => this.tryClaim(tx, callerId, key, print, token));
      if (outcome !== 'in-flight') return outcome.kind === 'claimed' ? { kind: 'claimed', token } : outcome;
      if (Date.now() + delay > deadline) throw inFlight();
      await sleep(delay);
    }
  }

  private async tryClaim(
    tx: Tx,
    callerId: string,
    key: string,
    print: string,
    token: string | null,
  ): Promise<{ kind: 'claimed' } | { kind: 'replay'; response: StoredResponse } | 'in-flight'> {
    const claimed = await this.keys.tryClaim(tx, {
      callerId,
      key,
      fingerprint: print,
      ttlHours: this.config.IDEMPOTENCY_TTL_HOURS,
      token,
      leaseSeconds: this.leaseSeconds,
      lockTimeoutMs: IN_FLIGHT_WAIT_MS,
    });
    if (claimed === 'locked') return 'in-flight';
    if (claimed) return { kind: 'claimed' };
    const stored = await this.keys.find(tx, callerId, key);
    if (!stored?.response) return 'in-flight';
    if (stored.fingerprint !== print) throw reusedKey();
    return { kind: 'replay', response: stored.response };
  }

  /**
   * Ends a `claimForHandler()` claim with the handler's response. Only the claim's owner can:
   * a claim that lapsed and was taken over is left alone. False when it could not be
   * recorded (the handler's work stands; the claim lapses with its lease).
   */
  async record(callerId: string, key: string, token: string, response: StoredResponse): Promise<boolean> {
    return this.settle(() => this.keys.complete(null, { callerId, key, token }, response), 'record');
  }

  /** Frees a `claimForHandler()` claim whose handler failed, so that a retry runs again. */
  async release(callerId: string, key: string, token: string): Promise<boolean> {
    return this.settle(() => this.keys.release(callerId, key, token), 'release');
  }

  /**
   * One short statement, tried again (for up to half the lease) while the database is past
   * its bounds: a burst must not leave claims behind, and the client's answer waits for it.
   */
  private async settle(statement: () => Promise<unknown>, what: string): Promise<boolean> {
    const deadline = Date.now() + (this.leaseSeconds * 1000) / 2;
    for (let delay = 50; ; delay = Math.min(delay * 2, 1000)) {
      try {
        await statement();
        return true;
      } catch (error) {
        if (!isOverload(error) || Date.now() + delay > deadline) {
          this.logger.warn(`could not ${what} an idempotency claim (it lapses within ${this.leaseSeconds} s): ${String(error)}`);
          return false;
        }
        await sleep(delay * (0.5 + Math.random()));
      }
    }
  }

  /** Deletes expired keys in small batches; several instances doing it at once is harmless. */
  async purgeExpired(): Promise<number> {
    let total = 0;
    for (;;) {
      const deleted = await this.keys.purgeSomeExpired();
      total += deleted;
      if (deleted < 1000) return total;
    }
  }

  onModuleInit(): void {
    if (!this.keys.databaseOpen()) return; // e.g. the OpenAPI export
    this.purgeTimer = setInterval(() => {
      this.purgeExpired().catch((error) => this.logger.warn(`idempotency purge failed: ${String(error)}`));
    }, 10 * 60 * 1000);
    this.purgeTimer.unref();
  }

  onApplicationShutdown(): void {
    if (this.purgeTimer) clearInterval(this.purgeTimer);
  }
}
