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
