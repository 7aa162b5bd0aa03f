import { Inject, Injectable } from '@nestjs/common';
import { RateLimiterPostgres, RateLimiterRes } from 'rate-limiter-flexible';
import { APP_CONFIG, AppConfig } from '../config/config';
import { ProblemError } from '../common/problem/problem';
import { PostgresRateLimiters } from '../database/rate-limiter-store';

/**
 * Login failures counted per login and per client address (rate-limiter-flexible on
 * PostgreSQL, so the count holds across instances). Every attempt takes a point up front,
 * atomically, before the password is checked: checking first and counting after let
 * concurrent guesses all pass the check. Success gives the points back (clears the login's
 * count, returns the address's point).
 */
@Injectable()
export class LoginLimiter {
  private limiter?: RateLimiterPostgres;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly limiters: PostgresRateLimiters,
  ) {}

  private get store(): RateLimiterPostgres {
    this.limiter ??= this.limiters.create({
      tableName: 'login_rate_limits',
      keyPrefix: 'login',
      points: this.config.LOGIN_MAX_FAILURES,
      duration: this.config.LOGIN_FAILURE_WINDOW_SECONDS,
    });
    return this.limiter;
  }

  private loginKey(login: string): string {
    return `login:${login.toLowerCase()}`;
  }

  private addressKey(clientAddress: string): string {
    return `ip:${clientAddress}`;
  }

  /** Counts an attempt; 429 with Retry-After when the login or the address has used up its attempts. */
  async beginAttempt(login: string, clientAddress: string): Promise<void> {
    // The address first: a refused address spends nothing of the login's attempts.
    for (const key of [this.addressKey(clientAddress), this.loginKey(login)]) {
      try {
        await this.store.consume(key);
      } catch (error) {
        if (error instanceof RateLimiterRes) throw this.tooMany(error);
        throw error;
      }
    }
  }

  /**
   * API-key exchanges are machine traffic, often concurrent: only failures count, per client
   * address (each try costs an argon2 verify, so guessing must not be free).
   */
  async assertKeyExchangeAllowed(clientAddress: string): Promise<void> {
    const res = await this.store.get(`key-${this.addressKey(clientAddress)}`);
    if (res && res.consumedPoints >= this.config.LOGIN_MAX_FAILURES) throw this.tooMany(res);
  }

  async recordKeyExchangeFailure(clientAddress: string): Promise<void> {
    try {
      await this.store.consume(`key-${this.addressKey(clientAddress)}`);
    } catch (error) {
      if (!(error instanceof RateLimiterRes)) throw error;
    }
  }

  /** The attempt succeeded: it was no failure. */
  async recordSuccess(login: string, clientAddress: string): Promise<void> {
    await this.store.delete(this.loginKey(login));
    await this.store.reward(this.addressKey(clientAddress), 1);
  }

  private tooMany(res: RateLimiterRes): ProblemError {
    const retryAfterSeconds = Math.max(1, Math.ceil(res.msBeforeNext / 1000));
    return new ProblemError(429, 'too-many-login-attempts', 'Too many login attempts', `Try again in ${retryAfterSeconds} seconds.`, {
      retryAfterSeconds,
    });
  }
}
