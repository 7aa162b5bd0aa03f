import { ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuthGuard } from '@nestjs/passport';
import { UnauthorizedProblem } from '../common/problem/problem';
import { IS_PUBLIC } from './public.decorator';

/**
 * The global guard: deny by default. Every route needs a valid access token unless marked
 * @Public(); the strategy resolves the Caller and puts it on the request.
 */
@Injectable()
export class AuthenticationGuard extends AuthGuard('jwt') {
  constructor(private readonly reflector: Reflector) {
    super();
  }

  override canActivate(context: ExecutionContext) {
    const isPublic = this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, [context.getHandler(), context.getClass()]);
    if (isPublic) return true;
    return super.canActivate(context);
  }

  override handleRequest<T>(error: unknown, caller: T): T {
    if (error || !caller) throw new UnauthorizedProblem();
    return caller;
  }
}
