import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { METADATA_KEY_PATTERN, METADATA_MAX_KEY_LENGTH, METADATA_MAX_KEYS, METADATA_MAX_VALUE_LENGTH } from '../common/metadata';
import { FieldError, ValidationProblem } from '../common/problem/problem';

const METADATA_PARAMETER = /^metadata\[(.*)\]$/s;

/**
 * Prepares the query of a customer or account list before validation (guards run before
 * pipes, after the global authentication guard; a guard rather than an interceptor, which
 * would wrap every list request in Nest's rxjs chain): Fastify's query parser leaves `metadata[key]=value` as a parameter literally
 * named `metadata[key]`; these are gathered into `metadata: [[key, value], …]`. A bad key or value,
 * `metadata` without a key, and a parameter this list does not have are each a 400 naming the
 * parameter as it was sent.
 */
@Injectable()
export class ListQueryGuard implements CanActivate {
  constructor(
    /** The list's own parameters (besides `metadata[key]`), named in the problem for an unknown one. */
    private readonly parameters: readonly string[],
  ) {}

  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    request.query = this.lift((request.query ?? {}) as Record<string, unknown>);
    return true;
  }

  private lift(query: Record<string, unknown>): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    // Pairs, not an object: class-transformer would drop a key such as `__proto__` (valid metadata).
    const metadata: Array<[string, string]> = [];
    const errors: FieldError[] = [];
    const name = (key: string) => (key.length > 80 ? `${key.slice(0, 80)}…` : key);
    for (const [key, value] of Object.entries(query)) {
      const match = METADATA_PARAMETER.exec(key);
      if (match) {
        const inner = match[1];
        if (!METADATA_KEY_PATTERN.test(inner)) {
          errors.push({ parameter: name(key), detail: `the metadata key must be 1–${METADATA_MAX_KEY_LENGTH} letters, digits or _ - . :` });
        } else if (typeof value !== 'string') {
          errors.push({ parameter: name(key), detail: `${name(key)} must be given once` });
        } else if (value.includes('\u0000')) {
          errors.push({ parameter: name(key), detail: `${name(key)} must not contain NUL characters` });
        } else if (value.length > METADATA_MAX_VALUE_LENGTH) {
          errors.push({ parameter: name(key), detail: `${name(key)} may have at most ${METADATA_MAX_VALUE_LENGTH} characters` });
        } else {
          metadata.push([inner, value]);
        }
      } else if (key === 'metadata') {
        errors.push({ parameter: 'metadata', detail: 'filter on metadata with metadata[key]=value' });
      } else if (!this.parameters.includes(key)) {
        errors.push({
          parameter: name(key),
          detail: `${name(key)} is not a parameter of this list; it takes ${this.parameters.join(', ')} and metadata[key]`,
        });
      } else {
        out[key] = value;
      }
    }
    if (metadata.length > METADATA_MAX_KEYS) {
      errors.push({ parameter: 'metadata', detail: `at most ${METADATA_MAX_KEYS} metadata[key] filters` });
    }
    if (errors.length) throw new ValidationProblem(errors);
    if (metadata.length) out.metadata = metadata;
    return out;
  }
}
