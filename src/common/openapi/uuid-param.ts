import { Param, ParseUUIDPipe } from '@nestjs/common';
import { ValidationProblem } from '../problem/problem';

/** A path id that must be a UUID: a malformed one is a 400 naming the parameter, never a 500. */
export const UuidParam = (name = 'id') =>
  Param(
    name,
    new ParseUUIDPipe({
      exceptionFactory: () => new ValidationProblem([{ parameter: name, detail: `${name} must be a UUID` }]),
    }),
  );
