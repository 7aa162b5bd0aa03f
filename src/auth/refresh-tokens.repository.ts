import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { SqlParams } from '../database/sql';
import type { Tx } from '../database/writes';
import { Caller } from '../tree/caller';
import { pathSuspendedSql } from '../tree/scope';

export interface NewRefreshToken {
  familyId: string;
  /** The customer, or an account principal's customer. */
  customerId: string;
  /** An account principal's account; null for a customer's token. */
  accountId: string | null;
  apiKeyId: string | null;
  tokenHash: string;
  authEpoch: number;
  ttlSeconds: number;
}

/** A presented refresh token with what decides whether it may be rotated. */
export interface RefreshTokenForRotation {
  id: string;
  family_id: string;
  customer_id: string;
  /** Set for an account principal's token. */
  account_id: string | null;
  api_key_id: string | null;
  used_at: Date | null;
  revoked_at: Date | null;
  expired: boolean;
  auth_epoch: number;
  /**
   * The principal's epoch now (the customer's, or the account's); null when it is gone,
   * (effectively) suspended, or an account that is blocked or whose customer is gone or suspended.
   */
  current_epoch: number | null;
  /** False when the token came from a key since revoked or expired. */
  key_live: boolean | null;
}

/** Whose refresh tokens an unscoped revocation ends (the caller had no say in finding them). */
export type RefreshTokensOf = { customerId: string } | { familyId: string };

/**
 * Refresh tokens: stored as hashes, grouped in families (one login and its rotations).
 * Revoking is one UPDATE text for every reason: logout, key revocation, password change,
 * deletion of the customer, re-use of a rotated token.
 */
@Injectable()
export class RefreshTokensRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** Tokens are issued before a caller exists (login, exchange, rotation): nothing to scope. */
  async unscopedInsert(token: NewRefreshToken, tx: Tx = this.dataSource.manager): Promise<void> {
    await tx.query(
      `INSERT INTO refresh_tokens (family_id, customer_id, account_id, api_key_id, token_hash, auth_epoch, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(secs => $7))`,
      [token.familyId, token.customerId, token.accountId, token.apiKeyId, token.tokenHash, token.authEpoch, token.ttlSeconds],
    );
  }

  /**
   * The token with this hash, locked, and whether its customer and key still hold (refresh
   * is public: the token is the only credential, so there is no caller to scope by).
   */
  async unscopedFindForRotation(tx: Tx, tokenHash: string): Promise<RefreshTokenForRotation | undefined> {
    const rows: RefreshTokenForRotation[] = await tx.query(
      `SELECT t.id, t.family_id, t.customer_id, t.account_id, t.api_key_id, t.used_at, t.revoked_at, t.expires_at <= now() AS expired,
              t.auth_epoch, CASE WHEN t.account_id IS NULL THEN c.auth_epoch WHEN c.id IS NOT NULL THEN ac.auth_epoch END AS current_epoch,
              (k.id IS NULL OR (k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now()))) AS key_live
         FROM refresh_tokens t
         LEFT JOIN customers c ON c.id = t.customer_id AND c.deleted_at IS NULL AND NOT ${pathSuspendedSql('c.path')}
         LEFT JOIN accounts ac ON ac.id = t.account_id AND ac.deleted_at IS NULL AND ac.status = 'active'
         LEFT JOIN api_keys k ON k.id = t.api_key_id
        WHERE t.token_hash = $1
        FOR UPDATE OF t`,
      [tokenHash],
    );
    return rows[0];
  }

  async unscopedMarkUsed(tx: Tx, id: string): Promise<void> {
    await tx.query(`UPDATE refresh_tokens SET used_at = now() WHERE id = $1`, [id]);
  }

  /**
   * Revokes the caller's own live tokens: all of them, those of one API key of the caller,
   * or the family of one token (when that token is the caller's; else nothing). A customer's
   * own are those without an account; an account principal's, those of its account.
   */
  async revokeOwn(caller: Caller, which: { familyOfTokenHash?: string; apiKeyId?: string; tx?: Tx } = {}): Promise<void> {
    const params = new SqlParams();
    const own =
      caller.kind === 'account' ? `account_id = ${params.add(caller.accountId)}` : `customer_id = ${params.add(caller.customerId)} AND account_id IS NULL`;
    const conditions = [own];
    if (which.apiKeyId !== undefined) conditions.push(`api_key_id = ${params.add(which.apiKeyId)}`);
    if (which.familyOfTokenHash !== undefined) {
      conditions.push(`family_id IN (SELECT family_id FROM refresh_tokens WHERE token_hash = ${params.add(which.familyOfTokenHash)} AND ${own})`);
    }
    await this.revokeWhere(conditions.join(' AND '), params, which.tx);
  }

  /**
   * Revokes every live token of a customer (its own, not its accounts') or of a family,
   * found without a caller: the re-use of a rotated token, or a change the caller's service
   * has already allowed (deleting a descendant).
   */
  async unscopedRevoke(of: RefreshTokensOf, tx?: Tx): Promise<void> {
    const params = new SqlParams();
    const condition = 'familyId' in of ? `family_id = ${params.add(of.familyId)}` : `customer_id = ${params.add(of.customerId)} AND account_id IS NULL`;
    await this.revokeWhere(condition, params, tx);
  }

  /** The one revocation statement. */
  private async revokeWhere(condition: string, params: SqlParams, tx: Tx = this.dataSource.manager): Promise<void> {
    await tx.query(`UPDATE refresh_tokens SET revoked_at = now() WHERE revoked_at IS NULL AND ${condition}`, params.values);
  }
}
