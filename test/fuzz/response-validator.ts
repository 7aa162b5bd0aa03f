import Ajv, { ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { Schema, Spec } from './openapi-arbitraries';

/** Validates response bodies against the schemas of openapi/openapi.json (ajv). */
export class ResponseValidator {
  private readonly ajv = new Ajv({ strict: false, allErrors: true });
  private readonly cache = new Map<string, ValidateFunction>();

  constructor(spec: Spec) {
    addFormats(this.ajv);
    this.ajv.addSchema(this.rewrite({ components: spec.components }) as object, 'openapi.json');
  }

  private rewrite(value: unknown): unknown {
    if (Array.isArray(value)) return value.map((v) => this.rewrite(v));
    if (value && typeof value === 'object') {
      return Object.fromEntries(
        Object.entries(value as Record<string, unknown>).map(([k, v]) =>
          k === '$ref' && typeof v === 'string' && v.startsWith('#/') ? [k, `openapi.json${v}`] : [k, this.rewrite(v)],
        ),
      );
    }
    return value;
  }

  /** Returns error text, or null when the body matches. */
  check(key: string, schema: Schema, body: unknown): string | null {
    let validate = this.cache.get(key);
    if (!validate) {
      validate = this.ajv.compile(this.rewrite(schema) as object);
      this.cache.set(key, validate);
    }
    return validate(body) ? null : this.ajv.errorsText(validate.errors);
  }
}
