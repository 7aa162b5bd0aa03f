import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AuditService } from '../audit/audit.service';
import { UnauthorizedProblem } from '../common/problem/problem';
import { LoginLimiter } from './login-limiter';
import { PasswordHasher } from './password-hasher';
import { TokenPair, TokenService } from './token.service';
import { ApiKeysService } from './api-keys.service';
import { pathSuspendedSql } from '../tree/scope';

const BAD_CREDENTIALS = 'The login or password is incorrect.';
const INVALID_KEY = 'The API key is invalid, expired or revoked.';

@Injectable()
export class AuthService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly hasher: PasswordHasher,
    private readonly limiter: LoginLimiter,
    private readonly tokens: TokenService,
    private readonly apiKeys: ApiKeysService,
    private readonly audit: AuditService,
  ) {}

  /** Wrong login and wrong password are the same 401, after the same amount of work. */
  async login(login: string, password: string, clientAddress: string): Promise<TokenPair> {
    await this.limiter.beginAttempt(login, clientAddress);
    // Suspended itself or below a suspended ancestor: the same 401 as a wrong password.
    const rows: Array<{ id: string; path: string; web_password_hash: string; auth_epoch: number; suspended: boolean }> =
      await this.dataSource.query(
        `SELECT c.id, c.path, c.web_password_hash, c.auth_epoch, ${pathSuspendedSql('c.path')} AS suspended
           FROM customers c WHERE lower(c.web_login) = lower($1) AND c.deleted_at IS NULL`,
        [login],
      );
    const customer = rows[0];
    const ok = customer ? await this.hasher.verify(customer.web_password_hash, password) : await this.hasher.verifyNothing(password);
    if (!ok || !customer || customer.suspended) {
      if (customer) {
        await this.audit.record(undefined, {
          actorId: null,
          action: 'session.login-failed',
          targetType: 'session',
          targetId: customer.id,
          subjectPath: customer.path,
        });
      }
      throw new UnauthorizedProblem(BAD_CREDENTIALS);
    }
    await this.limiter.recordSuccess(login, clientAddress);
    return this.dataSource.transaction(async (m) => {
      await this.audit.record(m, {
        actorId: customer.id,
        action: 'session.login',
        targetType: 'session',
        targetId: customer.id,
        subjectPath: customer.path,
      });
      return this.tokens.issue(customer.id, customer.auth_epoch, null, m);
    });
  }

  async exchangeApiKey(apiKey: string, clientAddress: string): Promise<TokenPair> {
    await this.limiter.assertKeyExchangeAllowed(clientAddress);
    const key = await this.apiKeys.verify(apiKey);
    if (!key || key === 'suspended') {
      // A right secret whose owner is (effectively) suspended is the same 401, but no guess:
      // machines retrying through a suspension must not be locked out once it is lifted.
      if (!key) await this.limiter.recordKeyExchangeFailure(clientAddress);
      throw new UnauthorizedProblem(INVALID_KEY);
    }
    return this.tokens.issue(key.customerId, key.authEpoch, key.id);
  }
}
