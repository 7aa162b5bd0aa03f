import { Inject, Injectable } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { APP_CONFIG, AppConfig } from '../config/config';
import { UnauthorizedProblem } from '../common/problem/problem';
import { Tx, Writes } from '../database/writes';
import { Caller } from '../tree/caller';
import { JwtSecret } from './jwt-secret';
import { JWT_ALGORITHM } from './jwt.strategy';
import { RefreshTokensRepository } from './refresh-tokens.repository';

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
    private readonly refreshTokens: RefreshTokensRepository,
    private readonly writes: Writes,
  ) {}

  /**
   * A new pair; its refresh token is stored in `tx` (the login's change) or on its own. With
   * `accountId`, the pair is an account principal's (`sub` the account, `knd: 'account'`) and
   * `customerId` is the account's customer.
   */
  async issue(
    customerId: string,
    authEpoch: number,
    apiKeyId: string | null,
    tx?: Tx,
    familyId: string = randomUUID(),
    accountId: string | null = null,
  ): Promise<TokenPair> {
    const accessToken = await this.jwt.signAsync(
      { ver: authEpoch, ...(apiKeyId ? { kid: apiKeyId } : {}), ...(accountId ? { knd: 'account' } : {}) },
      {
        secret: await this.secret.get(),
        algorithm: JWT_ALGORITHM,
        subject: accountId ?? customerId,
        issuer: this.config.JWT_ISSUER,
        audience: this.config.JWT_AUDIENCE,
        expiresIn: this.config.ACCESS_TOKEN_TTL_SECONDS,
        jwtid: randomUUID(),
      },
    );
    const refreshToken = `rt_${randomBytes(32).toString('base64url')}`;
    await this.refreshTokens.unscopedInsert(
      { familyId, customerId, accountId, apiKeyId, tokenHash: sha256(refreshToken), authEpoch, ttlSeconds: this.config.REFRESH_TOKEN_TTL_SECONDS },
      tx,
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
    // Unaudited, like the token itself: the login that started the family was the audited change.
    const outcome = await this.writes.unauditedTransaction(async (tx) => {
      const token = await this.refreshTokens.unscopedFindForRotation(tx, sha256(refreshToken));
      if (!token) return { error: true as const };
      if (token.used_at || token.revoked_at) {
        // Re-use of a rotated (or revoked) token: somebody holds a stolen copy. Kill the chain.
        await this.refreshTokens.unscopedRevoke({ familyId: token.family_id }, tx);
        return { error: true as const };
      }
      if (token.expired || token.current_epoch !== token.auth_epoch || !token.key_live) return { error: true as const };
      await this.refreshTokens.unscopedMarkUsed(tx, token.id);
      const pair = await this.issue(token.customer_id, token.auth_epoch, token.api_key_id, tx, token.family_id, token.account_id);
      return { pair, customerId: token.customer_id };
    });
    if ('error' in outcome) throw invalid();
    return outcome;
  }

  /** Revokes the family of the given token (when it is the caller's) or all of the caller's. */
  async revoke(caller: Caller, refreshToken?: string): Promise<void> {
    await this.refreshTokens.revokeOwn(caller, refreshToken ? { familyOfTokenHash: sha256(refreshToken) } : {});
  }
}
