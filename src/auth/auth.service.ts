import { Injectable } from '@nestjs/common';
import { UnauthorizedProblem } from '../common/problem/problem';
import { Writes } from '../database/writes';
import { ApiKeysService } from './api-keys.service';
import { CallersRepository } from './callers.repository';
import { LoginLimiter } from './login-limiter';
import { PasswordHasher } from './password-hasher';
import { TokenPair, TokenService } from './token.service';

const BAD_CREDENTIALS = 'The login or password is incorrect.';
const BAD_ACCOUNT_CREDENTIALS = 'The username or password is incorrect.';
const INVALID_KEY = 'The API key is invalid, expired or revoked.';

@Injectable()
export class AuthService {
  constructor(
    private readonly callers: CallersRepository,
    private readonly hasher: PasswordHasher,
    private readonly limiter: LoginLimiter,
    private readonly tokens: TokenService,
    private readonly apiKeys: ApiKeysService,
    private readonly writes: Writes,
  ) {}

  /** Wrong login and wrong password are the same 401, after the same amount of work. */
  async login(login: string, password: string, clientAddress: string): Promise<TokenPair> {
    await this.limiter.beginAttempt(login, clientAddress);
    // Suspended itself or below a suspended ancestor: the same 401 as a wrong password.
    const customer = await this.callers.unscopedFindForLogin(login);
    const ok = customer ? await this.hasher.verify(customer.web_password_hash, password) : await this.hasher.verifyNothing(password);
    if (!ok || !customer || customer.suspended) {
      if (customer) {
        // Nobody acted (actor null): the failed attempt is recorded on the customer it named.
        await this.writes.change(null, async () => ({
          result: undefined,
          audit: { action: 'session.login-failed', targetType: 'session', targetId: customer.id, subjectPath: customer.path },
        }));
      }
      throw new UnauthorizedProblem(BAD_CREDENTIALS);
    }
    await this.limiter.recordSuccess(login, clientAddress);
    return this.writes.change(customer.id, async (tx) => ({
      result: await this.tokens.issue(customer.id, customer.auth_epoch, null, tx),
      audit: { action: 'session.login', targetType: 'session', targetId: customer.id, subjectPath: customer.path },
    }));
  }

  /**
   * Account self-care (SPEC §2): an account's SIP username and web password give an account
   * principal. The same limiter (its own per-login key, the shared per-address key), the same
   * single 401 for a wrong username, a wrong password, a blocked account or one below a
   * suspension, after the same amount of work (one argon2 verify either way).
   */
  async accountLogin(username: string, password: string, clientAddress: string): Promise<TokenPair> {
    const limiterKey = `account:${username}`;
    await this.limiter.beginAttempt(limiterKey, clientAddress);
    const account = await this.callers.unscopedFindAccountForLogin(username);
    const ok = account ? await this.hasher.verify(account.web_password_hash, password) : await this.hasher.verifyNothing(password);
    if (!ok || !account || account.refused) {
      if (account) {
        // Nobody acted (actor null): the failed attempt is recorded on the account it named.
        await this.writes.change(null, async () => ({
          result: undefined,
          audit: { action: 'session.login-failed', targetType: 'account', targetId: account.id, subjectPath: account.customer_path },
        }));
      }
      throw new UnauthorizedProblem(BAD_ACCOUNT_CREDENTIALS);
    }
    await this.limiter.recordSuccess(limiterKey, clientAddress);
    // The actor is the account itself: customers above it see it as the actor (SPEC §9). The
    // same actions as a customer's login (`session.login`, an event `session.created`), told
    // apart by `targetType: 'account'`.
    return this.writes.change(account.id, async (tx) => ({
      result: await this.tokens.issue(account.customer_id, account.auth_epoch, null, tx, undefined, account.id),
      audit: { action: 'session.login', targetType: 'account', targetId: account.id, subjectPath: account.customer_path },
    }));
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
