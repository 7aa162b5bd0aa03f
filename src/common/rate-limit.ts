import { Inject, Injectable, SetMetadata } from '@nestjs/common';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { APP_CONFIG, AppConfig } from '../config/config';
import { ProblemError } from './problem/problem';

export const RATE_LIMITED = 'canopy:rateLimited';

/** Marks an expensive endpoint: each caller gets RATE_LIMIT_EXPENSIVE_PER_MINUTE calls a minute. */
export const ExpensiveEndpoint = (bucket: string) => SetMetadata(RATE_LIMITED, bucket);

/**
 * Per-caller limits on expensive endpoints (rate-limiter-flexible, in memory: the limit
 * holds per instance; login failures, which must hold across instances, use PostgreSQL).
 * Applied by the authentication guard once the caller is known.
 */
@Injectable()
export class CallerRateLimiter {
  private readonly limiters = new Map<string, RateLimiterMemory>();

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  async consume(bucket: string, callerId: string): Promise<void> {
    let limiter = this.limiters.get(bucket);
    if (!limiter) {
      limiter = new RateLimiterMemory({ keyPrefix: bucket, points: this.config.RATE_LIMIT_EXPENSIVE_PER_MINUTE, duration: 60 });
      this.limiters.set(bucket, limiter);
    }
    try {
      await limiter.consume(callerId);
    } catch (error) {
      if (!(error instanceof RateLimiterRes)) throw error;
      const retryAfterSeconds = Math.max(1, Math.ceil(error.msBeforeNext / 1000));
      throw new ProblemError(429, 'rate-limited', 'Too many requests', `This endpoint is rate limited; retry in ${retryAfterSeconds} seconds.`, {
        retryAfterSeconds,
      });
    }
  }
}
