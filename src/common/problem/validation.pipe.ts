import { ArgumentMetadata, ValidationError, ValidationPipe } from '@nestjs/common';
import { FieldError, ValidationProblem } from './problem';

class RawValidationFailure extends Error {
  constructor(readonly errors: ValidationError[]) {
    super('validation failed');
  }
}

function flatten(errors: ValidationError[], path: string[] = []): Array<{ path: string[]; detail: string }> {
  const out: Array<{ path: string[]; detail: string }> = [];
  for (const error of errors) {
    const here = [...path, error.property];
    for (const message of Object.values(error.constraints ?? {})) {
      out.push({ path: here, detail: message });
    }
    if (error.children?.length) out.push(...flatten(error.children, here));
  }
  return out;
}

/** Deeper than any request of ours; deeper input would overflow the stack in validation. */
const MAX_NESTING = 32;

/**
 * Walks a body or query (without recursion) for what must be refused before validation:
 * nesting over MAX_NESTING, and strings holding U+0000, which PostgreSQL text cannot store.
 */
function inspectInput(value: unknown): { tooDeep?: string[]; withNul: string[][] } {
  const withNul: string[][] = [];
  const stack: Array<{ value: unknown; path: string[] }> = [{ value, path: [] }];
  while (stack.length) {
    const { value: item, path } = stack.pop()!;
    if (typeof item === 'string') {
      if (item.includes('\u0000')) withNul.push(path);
    } else if (item && typeof item === 'object') {
      if (path.length >= MAX_NESTING) return { tooDeep: path.slice(0, 1), withNul };
      for (const [key, child] of Object.entries(item)) stack.push({ value: child, path: [...path, key] });
    }
  }
  return { withNul: withNul.reverse() };
}

function isEmptyObject(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return false;
  for (const key in value) if (Object.prototype.hasOwnProperty.call(value, key)) return false;
  return true;
}

/** At most this many validated queries are remembered per query class (then it starts again). */
const MAX_REMEMBERED_QUERIES = 1000;

/**
 * A query of a few short string parameters and nothing else (`scope=subtree&limit=50`, a
 * cursor): its validation depends on nothing but its class and these strings.
 */
function isFlatQuery(value: unknown): value is Record<string, string> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  let count = 0;
  let length = 0;
  for (const key in value) {
    if (!Object.prototype.hasOwnProperty.call(value, key)) continue;
    const item = (value as Record<string, unknown>)[key];
    if (typeof item !== 'string' || ++count > 8 || (length += key.length + item.length) > 2048) return false;
  }
  return true;
}

/** What a flat query became (an instance of its class whose own values are all primitives), or undefined. */
function flatResult(value: unknown): object | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  for (const item of Object.values(value)) if (item !== null && typeof item === 'object') return undefined;
  return value;
}

const toPointer = (path: string[]) => '/' + path.map((p) => p.replace(/~/g, '~0').replace(/\//g, '~1')).join('/');

/**
 * The global ValidationPipe: whitelist, reject unknown fields, transform; failures become a
 * 400 problem with `errors: [{pointer, detail}]` for the body and `{parameter, detail}` for
 * query and path parameters.
 */
export class ProblemValidationPipe extends ValidationPipe {
  /** Query classes that an empty query string validates for (most GETs send none). */
  private readonly emptyQueryValid = new WeakSet<object>();
  /**
   * Per query class, the flat queries (as JSON) that validated, with what each became: the same
   * query again (a portal's tree view asking for its first page, a page re-read) is not
   * transformed and validated again (class-transformer and class-validator were 4 % of a page's
   * Node CPU). Each hit gets a copy of its own; a query that failed is never remembered.
   */
  private readonly validFlatQueries = new WeakMap<object, Map<string, object>>();

  constructor() {
    super({
      whitelist: true,
      forbidNonWhitelisted: true,
      transform: true,
      forbidUnknownValues: true,
      validationError: { target: false, value: false },
      exceptionFactory: (errors) => new RawValidationFailure(errors),
    });
  }

  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (metadata.type === 'body' && metadata.metatype && !this.toValidate(metadata)) {
      return value;
    }
    // No body at all is an empty object: fine where every field is optional (logout),
    // and otherwise answered field by field.
    if (metadata.type === 'body' && value === undefined) value = {};
    // No query parameters: the outcome depends only on the class, so it is validated once.
    // (With no @Expose in the DTOs, class-transformer makes `new Class()` of an empty object.)
    const emptyQuery = metadata.type === 'query' && !!metadata.metatype && this.toValidate(metadata) && isEmptyObject(value);
    if (emptyQuery && this.emptyQueryValid.has(metadata.metatype!)) return new (metadata.metatype as new () => object)();
    const flatKey = metadata.type === 'query' && !emptyQuery && !!metadata.metatype && this.toValidate(metadata) && isFlatQuery(value) ? JSON.stringify(value) : undefined;
    if (flatKey !== undefined) {
      const known = this.validFlatQueries.get(metadata.metatype!)?.get(flatKey);
      if (known) return Object.assign(Object.create(Object.getPrototypeOf(known) as object) as object, known);
    }
    if (metadata.type === 'body' && (value === null || typeof value !== 'object' || Array.isArray(value))) {
      if (metadata.metatype && this.toValidate(metadata)) {
        throw new ValidationProblem([{ pointer: '', detail: 'The request body must be a JSON object.' }]);
      }
    }
    if (metadata.type === 'body' || metadata.type === 'query') {
      const { tooDeep, withNul } = inspectInput(value);
      const fieldError = (path: string[], detail: string): FieldError =>
        metadata.type === 'body' ? { pointer: toPointer(path), detail } : { parameter: path.join('.'), detail };
      if (tooDeep) throw new ValidationProblem([fieldError(tooDeep, `${tooDeep.join('.')} is nested too deeply`)]);
      if (withNul.length) {
        throw new ValidationProblem(withNul.map((path) => fieldError(path, `${path.join('.')} must not contain NUL characters`)));
      }
    }
    try {
      const transformed: unknown = await super.transform(value, metadata);
      if (emptyQuery) this.emptyQueryValid.add(metadata.metatype!);
      const result = flatKey !== undefined ? flatResult(transformed) : undefined;
      if (result) {
        let known = this.validFlatQueries.get(metadata.metatype!);
        if (!known || known.size >= MAX_REMEMBERED_QUERIES) this.validFlatQueries.set(metadata.metatype!, (known = new Map()));
        known.set(flatKey!, Object.assign(Object.create(Object.getPrototypeOf(result) as object) as object, result));
      }
      return transformed;
    } catch (error) {
      if (!(error instanceof RawValidationFailure)) throw error;
      const fieldErrors: FieldError[] = flatten(error.errors).map(({ path, detail }) =>
        metadata.type === 'body'
          ? { pointer: toPointer(path), detail }
          : { parameter: path.join('.'), detail },
      );
      throw new ValidationProblem(fieldErrors);
    }
  }
}
