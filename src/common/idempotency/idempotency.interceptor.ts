import { CallHandler, ExecutionContext, HttpStatus, Injectable, Logger, NestInterceptor, SetMetadata } from '@nestjs/common';
import { HTTP_CODE_METADATA } from '@nestjs/common/constants';
import { Reflector } from '@nestjs/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { from, lastValueFrom, Observable } from 'rxjs';
import { IS_PUBLIC } from '../../auth/public.decorator';
import { Permission } from '../../permissions/permission.catalogue';
import { Caller, requirePermission } from '../../tree/caller';
import { fingerprint, IDEMPOTENCY_HEADER, IdempotencyService, parseIdempotencyKey, REPLAYED_HEADER } from './idempotency.service';

/** Marks a handler that claims its Idempotency-Key inside its own transaction (balance operations). */
export const OWN_IDEMPOTENCY = 'canopy:ownIdempotency';
const REPLAY_POLICY = 'canopy:idempotentReplay';

/** What a route's stored response may hold, and what a replay of it still requires. */
export interface ReplayPolicy {
  /** A right the caller must still hold when a replay is asked for (403 naming it otherwise). */
  permission?: Permission;
  /** The part of the response that is stored and replayed; never a secret. */
  store?: (body: unknown) => unknown;
}

/** Sets the route's ReplayPolicy (e.g. API keys: the secret is never stored, replays need the right). */
export const IdempotentReplay = (policy: ReplayPolicy) => SetMetadata(REPLAY_POLICY, policy);

const KEPT_HEADERS = ['location', 'etag'];

/**
 * `Idempotency-Key` on any authenticated POST: the first response is stored and replayed
 * for the same key and body. The key is claimed in a short committed transaction before the
 * handler runs and the response recorded in another after it: no connection is held across
 * the handler (which needs its own), so a burst cannot starve the pool. A duplicate arriving
 * meanwhile waits briefly and replays, or answers 409. A handler that fails frees the key.
 * (Exactly-once across a crash holds only where the handler records the key in its own
 * transaction, as balance operations do; elsewhere unique constraints catch a re-run.)
 * Not global: `bindIdempotencyToPosts` (idempotency.module.ts) puts it on the authenticated
 * POST handlers only, so no GET pays for an interceptor.
 */
@Injectable()
export class IdempotencyInterceptor implements NestInterceptor {
  private readonly logger = new Logger(IdempotencyInterceptor.name);

  constructor(
    private readonly reflector: Reflector,
    private readonly idempotency: IdempotencyService,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const request = context.switchToHttp().getRequest<FastifyRequest & { user?: Caller }>();
    if (request.method !== 'POST') return next.handle();
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(OWN_IDEMPOTENCY, targets)) return next.handle();
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, targets) || !request.user) return next.handle();
    const key = parseIdempotencyKey(request.headers[IDEMPOTENCY_HEADER], false);
    if (!key) return next.handle();
    const status = this.reflector.get<number>(HTTP_CODE_METADATA, context.getHandler()) ?? HttpStatus.CREATED;
    const policy = this.reflector.get<ReplayPolicy | undefined>(REPLAY_POLICY, context.getHandler()) ?? {};
    const reply = context.switchToHttp().getResponse<FastifyReply>();
    return from(this.run(request, reply, request.user, key, status, policy, next));
  }

  private async run(
    request: FastifyRequest,
    reply: FastifyReply,
    caller: Caller,
    key: string,
    status: number,
    policy: ReplayPolicy,
    next: CallHandler,
  ): Promise<unknown> {
    const print = fingerprint(request.method, request.url.split('?')[0], request.body);
    const claim = await this.idempotency.claimForHandler(caller.customerId, key, print);
    if (claim.kind === 'replay') {
      if (policy.permission) requirePermission(caller, policy.permission);
      void reply.headers({ ...claim.response.headers, [REPLAYED_HEADER]: 'true' });
      return policy.store ? policy.store(claim.response.body) : claim.response.body;
    }
    let body: unknown;
    try {
      body = await lastValueFrom(next.handle(), { defaultValue: undefined });
    } catch (error) {
      await this.idempotency.release(caller.customerId, key, claim.token);
      throw error;
    }
    const headers: Record<string, string> = {};
    for (const name of KEPT_HEADERS) {
      const value = reply.getHeader(name);
      if (typeof value === 'string') headers[name] = value;
    }
    const stored = policy.store ? policy.store(body) : body;
    // The work is done and committed: its answer goes to the client even when the record
    // cannot be written now (the claim then lapses with its lease).
    if (!(await this.idempotency.record(caller.customerId, key, claim.token, { status, body: stored, headers }))) {
      this.logger.warn(`response for an Idempotency-Key not recorded (request ${String(request.id)})`);
    }
    return body;
  }
}
