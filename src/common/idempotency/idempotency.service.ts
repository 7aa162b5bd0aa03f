import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { DataSource, EntityManager } from 'typeorm';
import { APP_CONFIG, AppConfig } from '../../config/config';
import { ProblemError, ValidationProblem } from '../problem/problem';
import { sqlState } from '../../database/sql';

export const IDEMPOTENCY_HEADER = 'idempotency-key';
export const REPLAYED_HEADER = 'idempotent-replayed';
const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;
/** How long a duplicate waits for the first request with its key before answering 409. */
const IN_FLIGHT_WAIT = '3s';

export interface StoredResponse {
  status: number;
  body: unknown;
  headers: Record<string, string>;
  /** Set instead of `body` by one-statement postings: the response is rebuilt from the entry. */
  ledgerEntryId?: string | null;
}

export type IdempotencyOutcome = { kind: 'new' } | { kind: 'replay'; response: StoredResponse };

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
  new ProblemError(409, 'idempotency-key-in-flight', 'Request in progress', 'A request with this Idempotency-Key is still in progress; retry later.');

/**
 * Idempotency keys live in PostgreSQL (they hold across instances) and are claimed inside
 * the caller's transaction: a concurrent duplicate blocks on the key's row until the first
 * commits (then replays its response) or gives up after a short wait (409). If the first
 * fails or its process dies, its transaction rolls back and the key is free again.
 */
@Injectable()
export class IdempotencyService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(IdempotencyService.name);
  private purgeTimer?: NodeJS.Timeout;

  constructor(
    private readonly dataSource: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** Claims `key` for `callerId` inside `manager`'s transaction, or returns what to replay. */
  async claim(manager: EntityManager, callerId: string, key: string, print: string): Promise<IdempotencyOutcome> {
    await manager.query(`SET LOCAL lock_timeout = '${IN_FLIGHT_WAIT}'`);
    let claimed: unknown[];
    try {
      claimed = await manager.query(
        `INSERT INTO idempotency_keys (caller_id, key, fingerprint, expires_at)
         VALUES ($1, $2, $3, now() + make_interval(hours => $4))
         ON CONFLICT (caller_id, key) DO UPDATE
           SET fingerprint = EXCLUDED.fingerprint, status = NULL, response_body = NULL, response_headers = NULL,
               created_at = now(), expires_at = EXCLUDED.expires_at
           WHERE idempotency_keys.expires_at < now()
         RETURNING 1`,
        [callerId, key, print, this.config.IDEMPOTENCY_TTL_HOURS],
      );
    } catch (error) {
      if (sqlState(error) === '55P03') throw inFlight();
      throw error;
    }
    await manager.query(`SET LOCAL lock_timeout = 0`);
    if (claimed.length) return { kind: 'new' };
    const rows: Array<{
      fingerprint: string;
      status: number | null;
      response_body: unknown;
      response_headers: Record<string, string> | null;
      ledger_entry_id: string | null;
    }> = await manager.query(
      `SELECT fingerprint, status, response_body, response_headers, ledger_entry_id FROM idempotency_keys WHERE caller_id = $1 AND key = $2`,
      [
        callerId,
        key,
      ],
    );
    const row = rows[0];
    if (!row || row.status === null) throw inFlight();
    if (row.fingerprint !== print) throw reusedKey();
    return {
      kind: 'replay',
      response: { status: row.status, body: row.response_body, headers: row.response_headers ?? {}, ledgerEntryId: row.ledger_entry_id },
    };
  }

  /** Records the response, in the same transaction as the work it describes. */
  async complete(manager: EntityManager, callerId: string, key: string, response: StoredResponse): Promise<void> {
    await manager.query(
      `UPDATE idempotency_keys SET status = $3, response_body = $4, response_headers = $5 WHERE caller_id = $1 AND key = $2`,
      [callerId, key, response.status, JSON.stringify(response.body ?? null), JSON.stringify(response.headers)],
    );
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
