import { Inject, Injectable } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { DataSource, EntityManager } from 'typeorm';
import { APP_CONFIG, AppConfig } from '../config/config';
import { UnauthorizedProblem } from '../common/problem/problem';
import { JwtSecret } from './jwt-secret';
import { JWT_ALGORITHM } from './jwt.strategy';
import { pathSuspendedSql } from '../tree/scope';

export interface TokenPair {
  accessToken: string;
  tokenType: 'Bearer';
  expiresIn: number;
  refreshToken: string;
}

const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');

/**
 * Access tokens are short JWTs; refresh tokens are opaque, stored hashed, rotated on use,
 * and grouped in families: presenting a rotated token again revokes the whole family.
 */
@Injectable()
export class TokenService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly jwt: JwtService,
    private readonly secret: JwtSecret,
    private readonly dataSource: DataSource,
  ) {}

  async issue(
    customerId: string,
    authEpoch: number,
    apiKeyId: string | null,
    manager: EntityManager = this.dataSource.manager,
    familyId: string = randomUUID(),
  ): Promise<TokenPair> {
    const accessToken = await this.jwt.signAsync(
      { ver: authEpoch, ...(apiKeyId ? { kid: apiKeyId } : {}) },
      {
        secret: await this.secret.get(),
        algorithm: JWT_ALGORITHM,
        subject: customerId,
        issuer: this.config.JWT_ISSUER,
        audience: this.config.JWT_AUDIENCE,
        expiresIn: this.config.ACCESS_TOKEN_TTL_SECONDS,
        jwtid: randomUUID(),
      },
    );
    const refreshToken = `rt_${randomBytes(32).toString('base64url')}`;
    await manager.query(
      `INSERT INTO refresh_tokens (family_id, customer_id, api_key_id, token_hash, auth_epoch, expires_at)
       VALUES ($1, $2, $3, $4, $5, now() + make_interval(secs => $6))`,
      [familyId, customerId, apiKeyId, sha256(refreshToken), authEpoch, this.config.REFRESH_TOKEN_TTL_SECONDS],
    );
    return { accessToken, tokenType: 'Bearer', expiresIn: this.config.ACCESS_TOKEN_TTL_SECONDS, refreshToken };
  }

  /**
   * Rotates a refresh token. Re-use of a rotated one revokes its family (and answers 401).
   * A customer suspended itself or below a suspended ancestor gets a 401 and the token stays
   * unused, so that it works again once the suspension is lifted higher up.
   */
  async rotate(refreshToken: string): Promise<{ pair: TokenPair; customerId: string }> {
    const invalid = () => new UnauthorizedProblem('The refresh token is invalid, expired or revoked.');
    const outcome = await this.dataSource.transaction(async (m) => {
      const rows: Array<{
        id: string;
        family_id: string;
        customer_id: string;
        api_key_id: string | null;
        used_at: Date | null;
        revoked_at: Date | null;
        expired: boolean;
        auth_epoch: number;
        current_epoch: number | null;
        key_live: boolean | null;
      }> = await m.query(
        `SELECT t.id, t.family_id, t.customer_id, t.api_key_id, t.used_at, t.revoked_at, t.expires_at <= now() AS expired,
                t.auth_epoch, c.auth_epoch AS current_epoch,
                (k.id IS NULL OR (k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now()))) AS key_live
           FROM refresh_tokens t
           LEFT JOIN customers c ON c.id = t.customer_id AND c.deleted_at IS NULL AND NOT ${pathSuspendedSql('c.path')}
           LEFT JOIN api_keys k ON k.id = t.api_key_id
          WHERE t.token_hash = $1
          FOR UPDATE OF t`,
        [sha256(refreshToken)],
      );
      const token = rows[0];
      if (!token) return { error: true as const };
      if (token.used_at || token.revoked_at) {
        // Re-use of a rotated (or revoked) token: somebody holds a stolen copy. Kill the chain.
        await m.query(`UPDATE refresh_tokens SET revoked_at = now() WHERE family_id = $1 AND revoked_at IS NULL`, [
          token.family_id,
        ]);
        return { error: true as const };
      }
      if (token.expired || token.current_epoch !== token.auth_epoch || !token.key_live) return { error: true as const };
      await m.query(`UPDATE refresh_tokens SET used_at = now() WHERE id = $1`, [token.id]);
      const pair = await this.issue(token.customer_id, token.auth_epoch, token.api_key_id, m, token.family_id);
      return { pair, customerId: token.customer_id };
    });
    if ('error' in outcome) throw invalid();
    return outcome;
  }

  /** Revokes the family of the given token (when it is the caller's) or all of the caller's. */
  async revoke(customerId: string, refreshToken?: string): Promise<void> {
    if (refreshToken) {
      await this.dataSource.query(
        `UPDATE refresh_tokens SET revoked_at = now()
          WHERE revoked_at IS NULL AND family_id IN (SELECT family_id FROM refresh_tokens WHERE token_hash = $1 AND customer_id = $2)`,
        [sha256(refreshToken), customerId],
      );
      return;
    }
    await this.dataSource.query(`UPDATE refresh_tokens SET revoked_at = now() WHERE customer_id = $1 AND revoked_at IS NULL`, [
      customerId,
    ]);
  }
}
