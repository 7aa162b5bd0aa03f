/**
 * RFC 9457 problem details. Domain errors are small subclasses of ProblemError with a
 * stable `type` and title; the global filter turns every error into this shape.
 */
export const PROBLEM_CONTENT_TYPE = 'application/problem+json';
export const PROBLEM_TYPE_BASE = 'https://canopy.dev/problems/';

export interface FieldError {
  /** JSON pointer into the request body, e.g. `/creditLimit`. */
  pointer?: string;
  /** Name of the query, path or header parameter at fault. */
  parameter?: string;
  detail: string;
}

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  requestId?: string;
  errors?: FieldError[];
  [member: string]: unknown;
}

export class ProblemError extends Error {
  /** Extra response headers (e.g. Retry-After, Idempotent-Replayed). */
  headers: Record<string, string> = {};

  constructor(
    readonly status: number,
    readonly slug: string,
    readonly title: string,
    detail?: string,
    readonly members: Record<string, unknown> = {},
  ) {
    super(detail ?? title);
  }

  get type(): string {
    return PROBLEM_TYPE_BASE + this.slug;
  }
}

export class NotFoundProblem extends ProblemError {
  constructor(what = 'resource') {
    super(404, 'not-found', 'Not Found', `The ${what} does not exist.`);
  }
}

export class ValidationProblem extends ProblemError {
  constructor(errors: FieldError[], detail = 'The request is invalid.') {
    super(400, 'validation-error', 'Invalid request', detail, { errors });
  }
}

export class ConflictProblem extends ProblemError {
  constructor(slug: string, title: string, detail: string, members: Record<string, unknown> = {}) {
    super(409, slug, title, detail, members);
  }
}

export class ForbiddenProblem extends ProblemError {
  constructor(permission: string) {
    super(403, 'permission-denied', 'Permission denied', `This action needs the "${permission}" permission.`, {
      permission,
    });
  }
}

export class UnauthorizedProblem extends ProblemError {
  constructor(detail = 'Authentication is required and has failed or has not been provided.') {
    super(401, 'unauthorized', 'Unauthorized', detail);
    // RFC 9110 §11.6.1: a 401 names the scheme to use.
    this.headers = { 'www-authenticate': 'Bearer realm="canopy"' };
  }
}

export class PreconditionFailedProblem extends ProblemError {
  constructor() {
    super(412, 'precondition-failed', 'Precondition failed', 'The If-Match header does not match the current version.');
  }
}

/** How long a client is told to wait (Retry-After) after a 503 overloaded. */
export const OVERLOADED_RETRY_AFTER_SECONDS = 1;

/** A bound on the database was reached (pool wait, statement or idle transaction timeout). */
export class OverloadedProblem extends ProblemError {
  constructor() {
    super(503, 'overloaded', 'Service overloaded', 'The server is too busy to answer now; retry shortly (with the same Idempotency-Key, if any).', {
      retryAfterSeconds: OVERLOADED_RETRY_AFTER_SECONDS,
    });
  }
}

/** A stored problem response sent again, as it was, for a replayed idempotent request. */
export class ReplayedProblem extends ProblemError {
  constructor(readonly body: ProblemBody, headers: Record<string, string>) {
    super(body.status, '', body.title, body.detail);
    this.headers = headers;
  }
}
