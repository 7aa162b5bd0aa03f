import { Global, INestApplication, Module, RequestMethod } from '@nestjs/common';
import { INTERCEPTORS_METADATA, METHOD_METADATA } from '@nestjs/common/constants';
import { MetadataScanner, ModulesContainer } from '@nestjs/core';
import { IS_PUBLIC } from '../../auth/public.decorator';
import { IdempotencyInterceptor, OWN_IDEMPOTENCY } from './idempotency.interceptor';
import { IdempotencyRepository } from './idempotency.repository';
import { IdempotencyService } from './idempotency.service';

@Global()
@Module({
  providers: [IdempotencyRepository, IdempotencyService, IdempotencyInterceptor],
  exports: [IdempotencyService, IdempotencyInterceptor],
})
export class IdempotencyModule {}

/**
 * Puts the IdempotencyInterceptor on every authenticated POST handler (not on balance
 * operations, which claim their key in their own transaction, nor on @Public routes), and
 * on nothing else: a global interceptor would run on every GET too, and Nest binds each
 * interceptor to an AsyncResource and an rxjs chain per request. Found at start-up from the
 * route metadata, so a new POST gets it without saying so. Call before `app.init()`.
 */
export function bindIdempotencyToPosts(app: INestApplication): string[] {
  const interceptor = app.get(IdempotencyInterceptor);
  const scanner = new MetadataScanner();
  const bound: string[] = [];
  for (const module of app.get(ModulesContainer).values()) {
    for (const wrapper of module.controllers.values()) {
      const type = wrapper.metatype as (new (...args: never[]) => object) | undefined;
      if (!type) continue;
      for (const name of scanner.getAllMethodNames(type.prototype)) {
        const handler = (type.prototype as Record<string, unknown>)[name];
        if (typeof handler !== 'function') continue;
        if (Reflect.getMetadata(METHOD_METADATA, handler) !== RequestMethod.POST) continue;
        const says = (key: string) => Reflect.getMetadata(key, handler) ?? Reflect.getMetadata(key, type);
        if (says(OWN_IDEMPOTENCY) || says(IS_PUBLIC)) continue;
        // Another app built in the same process (tests) left its own instance here: replace it.
        const others = ((Reflect.getMetadata(INTERCEPTORS_METADATA, handler) as unknown[] | undefined) ?? []).filter(
          (i) => !(i instanceof IdempotencyInterceptor),
        );
        Reflect.defineMetadata(INTERCEPTORS_METADATA, [interceptor, ...others], handler);
        bound.push(`${type.name}.${name}`);
      }
    }
  }
  return bound;
}
