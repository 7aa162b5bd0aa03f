import { CallHandler, ExecutionContext, HttpStatus, Injectable, NestInterceptor } from '@nestjs/common';
import { HTTP_CODE_METADATA } from '@nestjs/common/constants';
import { Reflector } from '@nestjs/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { from, lastValueFrom, Observable } from 'rxjs';
import { DataSource } from 'typeorm';
import { IS_PUBLIC } from '../../auth/public.decorator';
import { Caller } from '../../tree/caller';
import { fingerprint, IDEMPOTENCY_HEADER, IdempotencyService, parseIdempotencyKey, REPLAYED_HEADER } from './idempotency.service';

/** Marks a handler that claims its Idempotency-Key inside its own transaction (balance operations). */
export const OWN_IDEMPOTENCY = 'canopy:ownIdempotency';

const KEPT_HEADERS = ['location', 'etag'];

/**
 * `Idempotency-Key` on any authenticated POST: the first response is stored and replayed
 * for the same key and body. The key is claimed in a transaction held open around the
 * handler, so duplicates wait and then replay. (Exactly-once across a crash holds only where
 * the handler records the key in its own transaction, as balance operations do.)
 */
@Injectable()
export class IdempotencyInterceptor implements NestInterceptor {
  constructor(
    private readonly reflector: Reflector,
    private readonly dataSource: DataSource,
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
    const reply = context.switchToHttp().getResponse<FastifyReply>();
    return from(this.run(request, reply, request.user, key, status, next));
  }

  private async run(
    request: FastifyRequest,
    reply: FastifyReply,
    caller: Caller,
    key: string,
    status: number,
    next: CallHandler,
  ): Promise<unknown> {
    const print = fingerprint(request.method, request.url.split('?')[0], request.body);
    const runner = this.dataSource.createQueryRunner();
    await runner.connect();
    try {
      await runner.startTransaction();
      const outcome = await this.idempotency.claim(runner.manager, caller.customerId, key, print);
      if (outcome.kind === 'replay') {
        await runner.commitTransaction();
        void reply.headers({ ...outcome.response.headers, [REPLAYED_HEADER]: 'true' });
        return outcome.response.body;
      }
      const body = await lastValueFrom(next.handle(), { defaultValue: undefined });
      const headers: Record<string, string> = {};
      for (const name of KEPT_HEADERS) {
        const value = reply.getHeader(name);
        if (typeof value === 'string') headers[name] = value;
      }
      await this.idempotency.complete(runner.manager, caller.customerId, key, { status, body, headers });
      await runner.commitTransaction();
      return body;
    } catch (error) {
      if (runner.isTransactionActive) await runner.rollbackTransaction();
      throw error;
    } finally {
      await runner.release();
    }
  }
}
