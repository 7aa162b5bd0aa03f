import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import { AsyncLocalStorage } from 'node:async_hooks';
import type { FastifyRequest } from 'fastify';
import { Observable } from 'rxjs';

export interface RequestContext {
  requestId: string;
  clientAddress: string;
}

const storage = new AsyncLocalStorage<RequestContext>();
let handlersRunning = 0;

/**
 * Handlers still running, including those whose client has hung up (Fastify no longer
 * counts them): shutdown waits for them before closing the database pool.
 */
export function runningHandlers(): number {
  return handlersRunning;
}

/** The request id and client address of the request being served (for audit events). */
export function currentRequest(): RequestContext | undefined {
  return storage.getStore();
}

@Injectable()
export class RequestContextInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const store: RequestContext = { requestId: String(request.id), clientAddress: request.ip };
    return new Observable((subscriber) => {
      handlersRunning++;
      const subscription = storage.run(store, () => next.handle().subscribe(subscriber));
      return () => {
        handlersRunning--;
        subscription.unsubscribe();
      };
    });
  }
}

/** For work outside a request handler that still has a request (e.g. the login limiter). */
export function runWithRequest<T>(request: FastifyRequest, fn: () => T): T {
  return storage.run({ requestId: String(request.id), clientAddress: request.ip }, fn);
}
