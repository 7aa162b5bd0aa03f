import { AsyncLocalStorage } from 'node:async_hooks';
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteHandlerMethod, RouteOptions } from 'fastify';

export interface RequestContext {
  requestId: string;
  clientAddress: string;
}

const storage = new AsyncLocalStorage<RequestContext>();
let handlersRunning = 0;
let writersRunning = 0;

/** The request id and client address of the request being served (for audit events). */
export function currentRequest(): RequestContext | undefined {
  return storage.getStore();
}

/**
 * Runs `work` as if for the request `context` (its audit events carry that request id and
 * address): for work done on behalf of several requests at once (a group commit), each
 * request's context captured when it was enqueued. Undefined: outside any request.
 */
export function runInRequest<T>(context: RequestContext | undefined, work: () => T): T {
  return context ? storage.run(context, work) : storage.exit(work);
}

/** Route handlers still running (shutdown waits for them, even for clients that hung up). */
export function openRequests(): number {
  return handlersRunning;
}

const READ_ONLY = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Wraps every route's handler (an onRoute hook; call before routes are registered):
 * - every handler is counted while it runs (`openRequests`);
 * - the handler of a route that can write (any method but GET, HEAD, OPTIONS) runs inside an
 *   AsyncLocalStorage scope holding its request id and client address, which the audit
 *   INSERT reads (`currentRequest`). Reads never write audit events, so they run outside it.
 *   On Node 20 an enabled AsyncLocalStorage installs a promise hook that every promise of
 *   the process pays for, so the storage is disabled again whenever no writing handler runs:
 *   a stream of reads pays nothing for it.
 */
export function installRequestContext(fastify: FastifyInstance): void {
  fastify.addHook('onRoute', (route: RouteOptions) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    const writes = methods.some((method) => !READ_ONLY.has(method));
    route.handler = (writes ? writingHandler : readingHandler)(route.handler);
  });
}

type Handler = (this: FastifyInstance, request: FastifyRequest, reply: FastifyReply) => unknown;

function readingHandler(handler: RouteHandlerMethod): RouteHandlerMethod {
  const inner = handler as unknown as Handler;
  return function (this: FastifyInstance, request: FastifyRequest, reply: FastifyReply) {
    handlersRunning++;
    return settle(() => inner.call(this, request, reply), readDone);
  } as RouteHandlerMethod;
}

function writingHandler(handler: RouteHandlerMethod): RouteHandlerMethod {
  const inner = handler as unknown as Handler;
  return function (this: FastifyInstance, request: FastifyRequest, reply: FastifyReply) {
    handlersRunning++;
    writersRunning++;
    const context = { requestId: String(request.id), clientAddress: request.ip };
    return settle(() => storage.run(context, () => inner.call(this, request, reply)), writeDone);
  } as RouteHandlerMethod;
}

function readDone(): void {
  handlersRunning--;
}

function writeDone(): void {
  handlersRunning--;
  // No writing handler left: switch the promise hook off until the next one starts.
  if (--writersRunning === 0) storage.disable();
}

/** Runs `run`, then `done` once what it returned has settled; the outcome passes through as it was. */
function settle(run: () => unknown, done: () => void): unknown {
  let result: unknown;
  try {
    result = run();
  } catch (error) {
    done();
    throw error;
  }
  if (result !== null && typeof result === 'object' && typeof (result as Promise<unknown>).then === 'function') {
    return (result as Promise<unknown>).then(
      (value) => {
        done();
        return value;
      },
      (error: unknown) => {
        done();
        throw error;
      },
    );
  }
  done();
  return result;
}
