import { AsyncLocalStorage } from 'node:async_hooks';
import type { FastifyInstance } from 'fastify';

export interface RequestContext {
  requestId: string;
  clientAddress: string;
}

const storage = new AsyncLocalStorage<RequestContext>();
let requestsOpen = 0;

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

/** Requests whose response has not closed yet (shutdown waits for them and for the pool). */
export function openRequests(): number {
  return requestsOpen;
}

/**
 * Runs the rest of each request inside an AsyncLocalStorage scope (as @fastify/request-context
 * does): a Fastify hook, not a Nest interceptor, because Nest binds every interceptor to an
 * AsyncResource per request, which costs more than the whole of a small request.
 */
export function installRequestContext(fastify: FastifyInstance): void {
  fastify.addHook('onRequest', (request, reply, done) => {
    requestsOpen++;
    reply.raw.once('close', () => requestsOpen--);
    storage.run({ requestId: String(request.id), clientAddress: request.ip }, done);
  });
}
