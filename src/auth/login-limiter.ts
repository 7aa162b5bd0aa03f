import { Inject, Injectable } from '@nestjs/common';
import { RateLimiterPostgres, RateLimiterRes } from 'rate-limiter-flexible';
import { DataSource } from 'typeorm';
import { APP_CONFIG, AppConfig } from '../config/config';
import { ProblemError } from '../common/problem/problem';

/**
 * Login failures counted per login and per client address (rate-limiter-flexible on
 * PostgreSQL, so the count holds across instances). Success clears the login's count.
 */
@Injectable()
export class LoginLimiter {
  private limiter?: RateLimiterPostgres;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly dataSource: DataSource,
  ) {}

  private get store(): RateLimiterPostgres {
    this.limiter ??= new RateLimiterPostgres({
      storeClient: (this.dataSource.driver as unknown as { master: unknown }).master,
      storeType: 'pool',
      tableName: 'login_rate_limits',
      tableCreated: true,
      keyPrefix: 'login',
      points: this.config.LOGIN_MAX_FAILURES,
      duration: this.config.LOGIN_FAILURE_WINDOW_SECONDS,
    });
    return this.limiter;
  }

  private keys(login: string, clientAddress: string): string[] {
    return [`login:${login.toLowerCase()}`, `ip:${clientAddress}`];
  }

  /** 429 with Retry-After when either the login or the address has used up its attempts. */
  async assertAllowed(login: string, clientAddress: string): Promise<void> {
    for (const key of this.keys(login, clientAddress)) {
      const res = await this.store.get(key);
      if (res && res.consumedPoints >= this.config.LOGIN_MAX_FAILURES) throw this.tooMany(res);
    }
  }

  async recordFailure(login: string, clientAddress: string): Promise<void> {
    for (const key of this.keys(login, clientAddress)) {
      try {
        await this.store.consume(key);
      } catch (error) {
        if (!(error instanceof RateLimiterRes)) throw error;
      }
    }
  }

  async recordSuccess(login: string): Promise<void> {
    await this.store.delete(`login:${login.toLowerCase()}`);
  }

  private tooMany(res: RateLimiterRes): ProblemError {
    const retryAfterSeconds = Math.max(1, Math.ceil(res.msBeforeNext / 1000));
    return new ProblemError(429, 'too-many-login-attempts', 'Too many login attempts', `Try again in ${retryAfterSeconds} seconds.`, {
      retryAfterSeconds,
    });
  }
}
