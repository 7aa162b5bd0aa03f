import { CallHandler, ExecutionContext, Inject, Injectable, NestInterceptor, SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { from, Observable, switchMap } from 'rxjs';
import { APP_CONFIG, AppConfig } from '../config/config';
import { Caller } from '../tree/caller';
import { ProblemError } from './problem/problem';

const RATE_LIMITED = 'canopy:rateLimited';

/** Marks an expensive endpoint: each caller gets RATE_LIMIT_EXPENSIVE_PER_MINUTE calls a minute. */
export const ExpensiveEndpoint = (bucket: string) => SetMetadata(RATE_LIMITED, bucket);

/**
 * Per-caller limits on expensive endpoints (rate-limiter-flexible, in memory: the limit
 * holds per instance; login failures, which must hold across instances, use PostgreSQL).
 */
@Injectable()
export class CallerRateLimitInterceptor implements NestInterceptor {
  private readonly limiters = new Map<string, RateLimiterMemory>();

  constructor(
    private readonly reflector: Reflector,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const bucket = this.reflector.get<string>(RATE_LIMITED, context.getHandler());
    const caller = context.switchToHttp().getRequest<{ user?: Caller }>().user;
    if (!bucket || !caller) return next.handle();
    let limiter = this.limiters.get(bucket);
    if (!limiter) {
      limiter = new RateLimiterMemory({ keyPrefix: bucket, points: this.config.RATE_LIMIT_EXPENSIVE_PER_MINUTE, duration: 60 });
      this.limiters.set(bucket, limiter);
    }
    return from(
      limiter.consume(caller.customerId).catch((error: unknown) => {
        if (!(error instanceof RateLimiterRes)) throw error;
        const retryAfterSeconds = Math.max(1, Math.ceil(error.msBeforeNext / 1000));
        throw new ProblemError(429, 'rate-limited', 'Too many requests', `This endpoint is rate limited; retry in ${retryAfterSeconds} seconds.`, {
          retryAfterSeconds,
        });
      }),
    ).pipe(switchMap(() => next.handle()));
  }
}
