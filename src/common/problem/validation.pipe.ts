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

/**
 * The global ValidationPipe: whitelist, reject unknown fields, transform; failures become a
 * 400 problem with `errors: [{pointer, detail}]` for the body and `{parameter, detail}` for
 * query and path parameters.
 */
export class ProblemValidationPipe extends ValidationPipe {
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
    if (metadata.type === 'body' && (value === null || typeof value !== 'object' || Array.isArray(value))) {
      if (metadata.metatype && this.toValidate(metadata)) {
        throw new ValidationProblem([{ pointer: '', detail: 'The request body must be a JSON object.' }]);
      }
    }
    try {
      return await super.transform(value, metadata);
    } catch (error) {
      if (!(error instanceof RawValidationFailure)) throw error;
      const fieldErrors: FieldError[] = flatten(error.errors).map(({ path, detail }) =>
        metadata.type === 'body'
          ? { pointer: '/' + path.map((p) => p.replace(/~/g, '~0').replace(/\//g, '~1')).join('/'), detail }
          : { parameter: path.join('.'), detail },
      );
      throw new ValidationProblem(fieldErrors);
    }
  }
}
