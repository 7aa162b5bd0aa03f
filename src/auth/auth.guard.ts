import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import { OverloadedProblem, UnauthorizedProblem } from '../common/problem/problem';
import { isOverload } from '../common/problem/to-problem';
import { CallerRateLimiter, RATE_LIMITED } from '../common/rate-limit';
import { Caller, isAccountCaller } from '../tree/caller';
import { ACCOUNT_ROUTES, refuseAccount } from './account-principal';
import { JwtStrategy } from './jwt.strategy';
import { IS_PUBLIC } from './public.decorator';

/** What the guard needs to know of a route, read once from its metadata. */
interface RoutePolicy {
  isPublic: boolean;
  bucket: string | undefined;
}

type Request = FastifyRequest & { user?: Caller; params: Record<string, string> | undefined };

/**
 * The global guard: deny by default. Every route needs a valid access token unless marked
 * @Public(); the verified token's Caller is put on the request (`request.user`). A missing,
 * invalid or expired token, or one whose caller is gone or refused, is a 401 problem with
 * `WWW-Authenticate`; a database past its bounds while resolving the caller is a 503 to
 * retry, not a 401. An account principal is let through only to the routes opened to
 * accounts (src/auth/account-principal.ts).
 */
@Injectable()
export class AuthenticationGuard implements CanActivate {
  private readonly policies = new WeakMap<object, RoutePolicy>();

  constructor(
    private readonly reflector: Reflector,
    private readonly rateLimiter: CallerRateLimiter,
    private readonly tokens: JwtStrategy,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const policy = this.policyOf(context);
    if (policy.isPublic) return true;
    const request = context.switchToHttp().getRequest<Request>();
    let caller: Caller | null;
    try {
      caller = await this.tokens.authenticate(request.headers.authorization);
    } catch (error) {
      if (isOverload(error)) throw new OverloadedProblem();
      throw new UnauthorizedProblem();
    }
    if (!caller) throw new UnauthorizedProblem();
    // An account principal (self-care) reaches only the routes listed for it.
    if (isAccountCaller(caller)) {
      const url = request.routeOptions.url ?? '';
      if (!ACCOUNT_ROUTES.has(`${request.method} ${url}`)) throw refuseAccount(caller, url, request.params);
    }
    request.user = caller;
    // Expensive endpoints are limited per caller, now that the caller is known.
    if (policy.bucket) await this.rateLimiter.consume(policy.bucket, caller.customerId);
    return true;
  }

  private policyOf(context: ExecutionContext): RoutePolicy {
    const handler = context.getHandler();
    let policy = this.policies.get(handler);
    if (!policy) {
      policy = {
        isPublic: this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, [handler, context.getClass()]) === true,
        bucket: this.reflector.get<string | undefined>(RATE_LIMITED, handler),
      };
      this.policies.set(handler, policy);
    }
    return policy;
  }
}
