import { ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuthGuard } from '@nestjs/passport';
import { OverloadedProblem, UnauthorizedProblem } from '../common/problem/problem';
import { isOverload } from '../common/problem/to-problem';
import { CallerRateLimiter, RATE_LIMITED } from '../common/rate-limit';
import { Caller } from '../tree/caller';
import { IS_PUBLIC } from './public.decorator';

/**
 * The global guard: deny by default. Every route needs a valid access token unless marked
 * @Public(); the strategy resolves the Caller and puts it on the request.
 */
@Injectable()
export class AuthenticationGuard extends AuthGuard('jwt') {
  constructor(
    private readonly reflector: Reflector,
    private readonly rateLimiter: CallerRateLimiter,
  ) {
    super();
  }

  override async canActivate(context: ExecutionContext): Promise<boolean> {
    const isPublic = this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, [context.getHandler(), context.getClass()]);
    if (isPublic) return true;
    await super.canActivate(context);
    // Expensive endpoints are limited per caller, now that the caller is known.
    const bucket = this.reflector.get<string | undefined>(RATE_LIMITED, context.getHandler());
    if (bucket) {
      const caller = context.switchToHttp().getRequest<{ user: Caller }>().user;
      await this.rateLimiter.consume(bucket, caller.customerId);
    }
    return true;
  }

  override handleRequest<T>(error: unknown, caller: T): T {
    // A database past its bounds while resolving the caller is a 503 to retry, not a 401.
    if (error && isOverload(error)) throw new OverloadedProblem();
    if (error || !caller) throw new UnauthorizedProblem();
    return caller;
  }
}
