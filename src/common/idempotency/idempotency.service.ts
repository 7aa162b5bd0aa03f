import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { createHash, randomUUID } from 'node:crypto';
import { DataSource, EntityManager } from 'typeorm';
import { APP_CONFIG, AppConfig } from '../../config/config';
import { ProblemError, ValidationProblem } from '../problem/problem';
import { sqlState } from '../../database/sql';
import { isOverload } from '../problem/to-problem';
import { inTransaction } from '../../database/transactions';

export const IDEMPOTENCY_HEADER = 'idempotency-key';
export const REPLAYED_HEADER = 'idempotent-replayed';
const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;
/** How long a duplicate waits for the first request with its key before answering 409. */
const IN_FLIGHT_WAIT_MS = 3000;
/** The shortest lease of a committed claim (see IdempotencyService). */
const MIN_LEASE_SECONDS = 120;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface StoredResponse {
  status: number;
  body: unknown;
  headers: Record<string, string>;
  /** Set instead of `body` by one-statement postings: the response is rebuilt from the entry. */
  ledgerEntryId?: string | null;
}

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
 * Idempotency keys live in PostgreSQL (they hold across instances). Two ways to claim one:
 *
 * - `claim()`, inside the caller's own transaction (balance operations): the key is recorded
 *   with the money, so a concurrent duplicate blocks on the key's row until the first commits
 *   (then replays its response) or gives up after a short wait (409). If the first fails or
 *   its process dies, its transaction rolls back and the key is free again.
 * - `claimForHandler()`, for any other POST: a short committed transaction records the key
 *   as in progress (`status IS NULL`, a `claim_token` and a lease `claimed_until`); the handler
 *   then runs without any connection held for the key, and `record()` (or `release()` when
 *   it fails) ends the claim in a second short transaction. A duplicate meanwhile polls for a
 *   few seconds, then replays or answers 409. A claim whose request died lapses with its lease.
 *
 * Both understand each other's rows: an in-progress claim is "in flight" to `claim()` too,
 * and an abandoned one (lease passed) is free for either.
 */
@Injectable()
export class IdempotencyService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(IdempotencyService.name);
  private purgeTimer?: NodeJS.Timeout;
  /** Longer than any request can run: its statements and pool waits are all bounded. */
  readonly leaseSeconds: number;

  constructor(
    private readonly dataSource: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    this.leaseSeconds = Math.max(
      MIN_LEASE_SECONDS,
      Math.ceil((4 * config.DB_STATEMENT_TIMEOUT_MS + 4 * config.DB_POOL_TIMEOUT_MS) / 1000),
    );
  }

  /** Claims `key` for `callerId` inside `manager`'s transaction, or returns what to replay. */
  async claim(manager: EntityManager, callerId: string, key: string, print: string): Promise<IdempotencyOutcome> {
    const outcome = await this.tryClaim(manager, callerId, key, print, null);
    if (outcome === 'in-flight') throw inFlight();
    if (outcome.kind === 'claimed') return { kind: 'new' };
    return outcome;
  }

  /**
   * Claims `key` in a short transaction of its own, committed before the handler runs. A
   * duplicate of a request in progress waits (polling) for its answer, up to a few seconds.
   */
  async claimForHandler(callerId: string, key: string, print: string): Promise<HandlerClaim> {
    const deadline = Date.now() + IN_FLIGHT_WAIT_MS;
    for (let delay = 20; ; delay = Math.min(delay * 2, 250)) {
      const token = randomUUID();
      const outcome = await inTransaction(this.dataSource, (m) => this.tryClaim(m, callerId, key, print, token));
      if (outcome !== 'in-flight') return outcome.kind === 'claimed' ? { kind: 'claimed', token } : outcome;
      if (Date.now() + delay > deadline) throw inFlight();
      await sleep(delay);
    }
  }

  private async tryClaim(
    manager: EntityManager,
    callerId: string,
    key: string,
    print: string,
    token: string | null,
  ): Promise<{ kind: 'claimed' } | { kind: 'replay'; response: StoredResponse } | 'in-flight'> {
    await manager.query(`SET LOCAL lock_timeout = '${IN_FLIGHT_WAIT_MS}ms'`);
    let claimed: unknown[];
    try {
      claimed = await manager.query(
        `INSERT INTO idempotency_keys (caller_id, key, fingerprint, expires_at, claim_token, claimed_until)
         VALUES ($1, $2, $3, now() + make_interval(hours => $4), $5::uuid,
                 CASE WHEN $5::uuid IS NULL THEN NULL ELSE now() + make_interval(secs => $6) END)
         ON CONFLICT (caller_id, key) DO UPDATE
           SET fingerprint = EXCLUDED.fingerprint, status = NULL, response_body = NULL, response_headers = NULL,
               ledger_entry_id = NULL, created_at = now(), expires_at = EXCLUDED.expires_at,
               claim_token = EXCLUDED.claim_token, claimed_until = EXCLUDED.claimed_until
           WHERE idempotency_keys.expires_at < now()
              OR (idempotency_keys.status IS NULL AND idempotency_keys.claimed_until < now())
         RETURNING 1`,
        [callerId, key, print, this.config.IDEMPOTENCY_TTL_HOURS, token, this.leaseSeconds],
      );
    } catch (error) {
      if (sqlState(error) === '55P03') return 'in-flight';
      throw error;
    }
    await manager.query(`SET LOCAL lock_timeout = 0`);
    if (claimed.length) return { kind: 'claimed' };
    const rows: Array<{
      fingerprint: string;
      status: number | null;
      response_body: unknown;
      response_headers: Record<string, string> | null;
      ledger_entry_id: string | null;
    }> = await manager.query(
      `SELECT fingerprint, status, response_body, response_headers, ledger_entry_id FROM idempotency_keys WHERE caller_id = $1 AND key = $2`,
      [callerId, key],
    );
    const row = rows[0];
    if (!row || row.status === null) return 'in-flight';
    if (row.fingerprint !== print) throw reusedKey();
    return {
      kind: 'replay',
      response: { status: row.status, body: row.response_body, headers: row.response_headers ?? {}, ledgerEntryId: row.ledger_entry_id },
    };
  }

  /** Records the response, in the same transaction as the work it describes (after `claim()`). */
  async complete(manager: EntityManager, callerId: string, key: string, response: StoredResponse): Promise<void> {
    await manager.query(
      `UPDATE idempotency_keys SET status = $3, response_body = $4, response_headers = $5, claim_token = NULL, claimed_until = NULL
        WHERE caller_id = $1 AND key = $2`,
      [callerId, key, response.status, JSON.stringify(response.body ?? null), JSON.stringify(response.headers)],
    );
  }

  /**
   * Ends a `claimForHandler()` claim with the handler's response. Only the claim's owner can:
   * a claim that lapsed and was taken over is left alone. False when it could not be
   * recorded (the handler's work stands; the claim lapses with its lease).
   */
  async record(callerId: string, key: string, token: string, response: StoredResponse): Promise<boolean> {
    return this.settle(
      `UPDATE idempotency_keys SET status = $4, response_body = $5, response_headers = $6, claim_token = NULL, claimed_until = NULL
        WHERE caller_id = $1 AND key = $2 AND claim_token = $3 AND status IS NULL`,
      [callerId, key, token, response.status, JSON.stringify(response.body ?? null), JSON.stringify(response.headers)],
      'record',
    );
  }

  /** Frees a `claimForHandler()` claim whose handler failed, so that a retry runs again. */
  async release(callerId: string, key: string, token: string): Promise<boolean> {
    return this.settle(
      `DELETE FROM idempotency_keys WHERE caller_id = $1 AND key = $2 AND claim_token = $3 AND status IS NULL`,
      [callerId, key, token],
      'release',
    );
  }

  /**
   * One short statement, tried again (for up to half the lease) while the database is past
   * its bounds: a burst must not leave claims behind, and the client's answer waits for it.
   */
  private async settle(sql: string, params: unknown[], what: string): Promise<boolean> {
    const deadline = Date.now() + (this.leaseSeconds * 1000) / 2;
    for (let delay = 50; ; delay = Math.min(delay * 2, 1000)) {
      try {
        await this.dataSource.query(sql, params);
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
      const result: [unknown[], number] = await this.dataSource.query(
        `DELETE FROM idempotency_keys WHERE ctid IN (SELECT ctid FROM idempotency_keys WHERE expires_at < now() LIMIT 1000)`,
      );
      const deleted = Array.isArray(result) ? Number(result[1] ?? 0) : 0;
      total += deleted;
      if (deleted < 1000) return total;
    }
  }

  onModuleInit(): void {
    if (!this.dataSource.isInitialized) return; // e.g. the OpenAPI export
    this.purgeTimer = setInterval(() => {
      this.purgeExpired().catch((error) => this.logger.warn(`idempotency purge failed: ${String(error)}`));
    }, 10 * 60 * 1000);
    this.purgeTimer.unref();
  }

  onApplicationShutdown(): void {
    if (this.purgeTimer) clearInterval(this.purgeTimer);
  }
}
