import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import { Caller } from '../tree/caller';

/** The authenticated Caller (set by the global guard). */
export const CurrentCaller = createParamDecorator((_data: unknown, ctx: ExecutionContext): Caller => {
  return ctx.switchToHttp().getRequest<{ user: Caller }>().user;
});
