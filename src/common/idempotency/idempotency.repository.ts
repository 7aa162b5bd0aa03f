import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { preparedQuery } from '../../database/prepared';
import { affectedRows, SqlParams, sqlState } from '../../database/sql';
import type { Tx } from '../../database/writes';

/** A stored answer to a request with an Idempotency-Key. */
export interface StoredResponse {
  status: number;
  body: unknown;
  headers: Record<string, string>;
  /** The ledger entry a posting created (older postings stored only this, with a null body). */
  ledgerEntryId?: string | null;
}

export interface StoredKey {
  fingerprint: string;
  /** Null while the request holding the key is in progress. */
  response: StoredResponse | null;
}

/** A new key's claim: in the caller's transaction (`token` null) or committed with a lease. */
export interface NewClaim {
  callerId: string;
  key: string;
  fingerprint: string;
  ttlHours: number;
  /** Proves ownership of a committed claim; null for a claim inside the work's own transaction. */
  token: string | null;
  leaseSeconds: number;
  /** How long the claim waits for a concurrent request's uncommitted claim of the same key. */
  lockTimeoutMs: number;
}

/** A claimed key: its caller, the key, and the owner's token (null for a claim in the work's own transaction). */
export interface ClaimRef {
  callerId: string;
  key: string;
  token: string | null;
}

/**
 * THE completing UPDATE of a claim (the key's answer recorded, the claim ended), with the
 * response given as SQL expressions. `complete()` runs it alone; a posting runs it as a
 * data-modifying CTE of its own statement (`from` naming the rows it reads, e.g. the new
 * ledger entry), so that the money and its answer are written together.
 */
export function completeClaimSql(
  params: SqlParams,
  claim: ClaimRef,
  response: { status: string; body: string; headers: string; ledgerEntryId: string },
  from = '',
): string {
  return `UPDATE idempotency_keys SET status = ${response.status}, response_body = ${response.body}, response_headers = ${response.headers},
                 ledger_entry_id = ${response.ledgerEntryId}, claim_token = NULL, claimed_until = NULL
          ${from ? `FROM ${from}` : ''}
           WHERE caller_id = ${params.add(claim.callerId)}::uuid AND key = ${params.add(claim.key)}::varchar
             AND claim_token IS NOT DISTINCT FROM ${params.add(claim.token)}::uuid AND status IS NULL`;
}

/**
 * The set form of completeClaimSql, for a statement answering many claims at once (postings
 * of several requests): each row of `source` names a claim (caller, key, owner's token) and
 * its response, all as SQL expressions over `source`.
 */
export function completeClaimsSql(
  source: string,
  claim: { callerId: string; key: string; token: string },
  response: { status: string; body: string; headers: string; ledgerEntryId: string },
): string {
  return `UPDATE idempotency_keys SET status = ${response.status}, response_body = ${response.body}, response_headers = ${response.headers},
                 ledger_entry_id = ${response.ledgerEntryId}, claim_token = NULL, claimed_until = NULL
            FROM ${source}
           WHERE idempotency_keys.caller_id = ${claim.callerId} AND idempotency_keys.key = ${claim.key}
             AND idempotency_keys.claim_token IS NOT DISTINCT FROM ${claim.token} AND idempotency_keys.status IS NULL`;
}

/**
 * For a posting statement that runs alone (no transaction to claim in), one fresh key per
 * entry of `source` (its caller, key, fingerprint and entry as SQL expressions): `used`, the
 * holders (expression `holder`) any of whose keys is already known, which the statement then
 * leaves alone; and the INSERT that claims every key of the holders it wrote, already completed
 * (the answer: the new entry, rebuilt from its id on replay), from `written`. A concurrent
 * request with one of the keys makes the INSERT fail on the key's unique index: the postings
 * then take the transactional claim, which replays or waits.
 */
export function freshKeysSql(
  fresh: { callerId: string; key: string; fingerprint: string; ledgerEntryId: string; holder: string; ttlHours: string },
  source: string,
  written: string,
) {
  return {
    used: `SELECT DISTINCT ${fresh.holder} AS holder_id FROM ${source} JOIN idempotency_keys k ON k.caller_id = ${fresh.callerId} AND k.key = ${fresh.key}`,
    insert: `INSERT INTO idempotency_keys (caller_id, key, fingerprint, status, ledger_entry_id, expires_at)
             SELECT ${fresh.callerId}, ${fresh.key}, ${fresh.fingerprint}, 201, ${fresh.ledgerEntryId}, now() + make_interval(hours => ${fresh.ttlHours})
               FROM ${written}`,
  };
}

/**
 * A key claimed already completed by the statement that does the work (a batch written by
 * THE posting statement alone): `INSERT` of the key with its answer. A key already known (a
 * replay, a request in progress, another body, an expired key) fails the statement on the
 * key's unique index (23505, after waiting for an uncommitted claim of it): the request then
 * takes the transactional claim, which replays, refuses or takes it over. `from`: rows the
 * insert is made from (one row: the key is inserted once; none: not at all).
 */
export function completedKeySql(params: SqlParams, key: CompletedKey, from?: string): string {
  return `INSERT INTO idempotency_keys (caller_id, key, fingerprint, status, response_body, response_headers, expires_at)
          SELECT ${params.add(key.callerId)}::uuid, ${params.add(key.key)}::varchar, ${params.add(key.fingerprint)}::varchar, ${params.add(key.status)}::int,
                 ${params.add(JSON.stringify(key.body))}::jsonb, '{}'::jsonb, now() + make_interval(hours => ${params.add(key.ttlHours)}::int)
          ${from ? `FROM ${from}` : ''}`;
}

/** A key claimed and completed by one statement (completedKeySql): its caller, fingerprint, answer and TTL. */
export interface CompletedKey {
  callerId: string;
  key: string;
  fingerprint: string;
  status: number;
  body: unknown;
  ttlHours: number;
}

/** The keys a one-statement posting claims, completed: one per entry (its actor's, with this fingerprint), kept `ttlHours`. */
export interface FreshKeys {
  fingerprints: string[];
  ttlHours: number;
}

/** Every SQL text about idempotency_keys. Keys belong to their caller: no subtree scope applies. */
@Injectable()
export class IdempotencyRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** False where no database was opened (e.g. the OpenAPI export). */
  databaseOpen(): boolean {
    return this.dataSource.isInitialized;
  }

  /**
   * Takes the key (a fresh one, one whose TTL passed, or an abandoned claim whose lease passed)
   * in one statement: true when taken, false when it is held, 'locked' when a concurrent
   * uncommitted claim held it past the lock timeout. The lock timeout is set for this
   * statement only (set before the insert, back to none once its rows are counted).
   */
  async tryClaim(tx: Tx, claim: NewClaim): Promise<boolean | 'locked'> {
    try {
      const rows: Array<{ claimed: number }> = await tx.query(
        `WITH t AS (SELECT set_config('lock_timeout', $7, true) AS applied),
         i AS (
           INSERT INTO idempotency_keys (caller_id, key, fingerprint, expires_at, claim_token, claimed_until)
           SELECT $1, $2, $3, now() + make_interval(hours => $4), $5::uuid,
                  CASE WHEN $5::uuid IS NULL THEN NULL ELSE now() + make_interval(secs => $6) END
             FROM t
           ON CONFLICT (caller_id, key) DO UPDATE
             SET fingerprint = EXCLUDED.fingerprint, status = NULL, response_body = NULL, response_headers = NULL,
                 ledger_entry_id = NULL, created_at = now(), expires_at = EXCLUDED.expires_at,
                 claim_token = EXCLUDED.claim_token, claimed_until = EXCLUDED.claimed_until
             WHERE idempotency_keys.expires_at < now()
                OR (idempotency_keys.status IS NULL AND idempotency_keys.claimed_until < now())
           RETURNING 1
         ), n AS (SELECT count(*)::int AS claimed FROM i)
         SELECT n.claimed, set_config('lock_timeout', '0', true) AS restored FROM n`,
        [claim.callerId, claim.key, claim.fingerprint, claim.ttlHours, claim.token, claim.leaseSeconds, `${claim.lockTimeoutMs}ms`],
      );
      return rows[0].claimed > 0;
    } catch (error) {
      if (sqlState(error) === '55P03') return 'locked';
      throw error;
    }
  }

  /**
   * Takes many keys at once inside `tx` (claims of the work's own transaction, as `tryClaim`
   * with no token), in one statement and in the order given: the keys taken (fresh, expired,
   * or abandoned claims), as `callerId key`; any other (known, or held) is left alone. The
   * keys must be distinct. 'locked' when a concurrent uncommitted claim of one of them held it
   * past `lockTimeoutMs`: the transaction is then aborted.
   */
  async tryClaimMany(
    tx: Tx,
    claims: Array<{ callerId: string; key: string; fingerprint: string }>,
    ttlHours: number,
    lockTimeoutMs: number,
  ): Promise<Set<string> | 'locked'> {
    try {
      const rows = await preparedQuery<{ taken: string[] | null }>(
        tx,
        `WITH t AS (SELECT set_config('lock_timeout', $5, true) AS applied),
         i AS (
           INSERT INTO idempotency_keys (caller_id, key, fingerprint, expires_at, claim_token, claimed_until)
           SELECT c.caller_id, c.key, c.fingerprint, now() + make_interval(hours => $4), NULL, NULL
             FROM t, unnest($1::uuid[], $2::varchar[], $3::varchar[]) WITH ORDINALITY AS c(caller_id, key, fingerprint, n)
            ORDER BY c.n
           ON CONFLICT (caller_id, key) DO UPDATE
             SET fingerprint = EXCLUDED.fingerprint, status = NULL, response_body = NULL, response_headers = NULL,
                 ledger_entry_id = NULL, created_at = now(), expires_at = EXCLUDED.expires_at,
                 claim_token = NULL, claimed_until = NULL
             WHERE idempotency_keys.expires_at < now()
                OR (idempotency_keys.status IS NULL AND idempotency_keys.claimed_until < now())
           RETURNING caller_id::text || ' ' || key AS taken
         ), n AS (SELECT array_agg(taken) AS taken FROM i)
         SELECT n.taken, set_config('lock_timeout', '0', true) AS restored FROM n`,
        [claims.map((c) => c.callerId), claims.map((c) => c.key), claims.map((c) => c.fingerprint), ttlHours, `${lockTimeoutMs}ms`],
      );
      return new Set(rows[0].taken ?? []);
    } catch (error) {
      if (sqlState(error) === '55P03') return 'locked';
      throw error;
    }
  }

  async find(tx: Tx, callerId: string, key: string): Promise<StoredKey | undefined> {
    const rows: Array<{
      fingerprint: string;
      status: number | null;
      response_body: unknown;
      response_headers: Record<string, string> | null;
      ledger_entry_id: string | null;
    }> = await tx.query(
      `SELECT fingerprint, status, response_body, response_headers, ledger_entry_id FROM idempotency_keys WHERE caller_id = $1 AND key = $2`,
      [callerId, key],
    );
    const row = rows[0];
    if (!row) return undefined;
    return {
      fingerprint: row.fingerprint,
      response:
        row.status === null
          ? null
          : { status: row.status, body: row.response_body, headers: row.response_headers ?? {}, ledgerEntryId: row.ledger_entry_id },
    };
  }

  /**
   * Records the response of a claim: the one in `tx` (token null), or a committed claim
   * still owned by `token` (on the pool when `tx` is null). False when nothing was recorded.
   */
  async complete(tx: Tx | null, claim: ClaimRef, response: StoredResponse): Promise<boolean> {
    const params = new SqlParams();
    const sql = completeClaimSql(params, claim, {
      status: `${params.add(response.status)}::int`,
      body: `${params.add(JSON.stringify(response.body ?? null))}::jsonb`,
      headers: `${params.add(JSON.stringify(response.headers))}::jsonb`,
      ledgerEntryId: `${params.add(response.ledgerEntryId ?? null)}::uuid`,
    });
    return affectedRows(await (tx ?? this.dataSource).query(sql, params.values)) > 0;
  }

  /** Frees a committed claim still owned by `token`. */
  async release(callerId: string, key: string, token: string): Promise<void> {
    await this.dataSource.query(`DELETE FROM idempotency_keys WHERE caller_id = $1 AND key = $2 AND claim_token = $3 AND status IS NULL`, [
      callerId,
      key,
      token,
    ]);
  }

  /** Deletes up to 1,000 expired keys; the number deleted. */
  async purgeSomeExpired(): Promise<number> {
    return affectedRows(
      await this.dataSource.query(`DELETE FROM idempotency_keys WHERE ctid IN (SELECT ctid FROM idempotency_keys WHERE expires_at < now() LIMIT 1000)`),
    );
  }
}
