import { INestApplication } from '@nestjs/common';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { PUBLIC_EXTENSION } from '../../auth/public.decorator';
import { PROBLEM_CONTENT_TYPE } from '../problem/problem';
import { addExamples } from './examples';
import { FieldErrorDto, ProblemDto } from './problem.dto';
import { orderDocument } from './tags';

const DESCRIPTION = `
Canopy: the customer side of a VoIP softswitch's billing — a tree of customers, their
accounts, tariffs, currencies and exchange rates, balances with a ledger, and permissions.

* Money is a decimal **string** with at most 8 fraction digits (\`"12.50"\`), never a JSON number.
* Errors are RFC 9457 problem details (\`application/problem+json\`).
* Anything outside the caller's subtree answers 404, exactly like an id that does not exist.
* Lists are \`{items, nextCursor}\` with \`limit\` (1–200, default 50) and an opaque \`cursor\`:
  a cursor is valid only on the list that issued it; anything else is a 400 naming \`cursor\`.
* Names are NFC-normalized and trimmed before they are stored or compared.
* Request bodies over 1 MiB (CSV rate decks over 20 MiB) are a 413 problem.
* Waiting for the database is bounded: past a bound the answer is \`503 overloaded\` with \`Retry-After\`.
* \`Idempotency-Key\` on any POST: the same key and body replay the first answer (\`Idempotent-Replayed: true\`);
  while the first is still running a duplicate waits a few seconds, then replays or answers \`409\`.
`.trim();

/** Methods whose requests may carry a body, which Fastify limits (413 beyond it). */
const WITH_BODY = new Set(['post', 'put', 'patch']);

const OVERLOADED_RESPONSE = {
  description:
    'Overloaded (`overloaded`): waiting for a database connection, for a batch\'s turn (`BATCHES_IN_FLIGHT`) or running a statement took longer than its bound. ' +
    'Nothing is left half-done; retry after `Retry-After` seconds (with the same `Idempotency-Key`, if any).',
  headers: { 'Retry-After': { description: 'Seconds to wait before retrying.', schema: { type: 'integer', minimum: 1 } } },
  content: { [PROBLEM_CONTENT_TYPE]: { schema: { $ref: '#/components/schemas/ProblemDto' } } },
};

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'patch', 'options', 'head', 'trace'] as const;

/** Builds the OpenAPI document from the code (no database needed). */
export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('Canopy API')
    .setDescription(DESCRIPTION)
    .setVersion('1.0.0')
    .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' }, 'bearer')
    .addSecurityRequirements('bearer')
    .build();
  const document = SwaggerModule.createDocument(app, config, {
    operationIdFactory: (_controller, method) => method,
    extraModels: [ProblemDto, FieldErrorDto],
  });
  const seen = new Set<string>();
  for (const [path, item] of Object.entries(document.paths)) {
    for (const method of HTTP_METHODS) {
      const operation = item[method];
      if (!operation) continue;
      const id = operation.operationId ?? '';
      if (seen.has(id)) throw new Error(`Duplicate operationId ${id} (${method.toUpperCase()} ${path})`);
      seen.add(id);
      const extensions = operation as unknown as Record<string, unknown>;
      const isPublic = extensions[PUBLIC_EXTENSION] === true;
      delete extensions[PUBLIC_EXTENSION];
      const problem = { content: { [PROBLEM_CONTENT_TYPE]: { schema: { $ref: '#/components/schemas/ProblemDto' } } } };
      if (isPublic) operation.security = [];
      else operation.responses['401'] ??= { description: 'Missing, invalid or expired credentials.', ...problem };
      if (operation.requestBody || WITH_BODY.has(method)) {
        operation.responses['413'] ??= { description: 'Request body too large (over 1 MiB; CSV rate decks over 20 MiB).', ...problem };
      }
      operation.responses['500'] ??= { description: 'Unexpected error; the problem carries a request id.', ...problem };
      // Everything that touches the database (every authenticated operation, and the token
      // endpoints) can meet a bound on it (README, Configuration).
      if (!isPublic || path.startsWith('/v1/auth/')) operation.responses['503'] ??= OVERLOADED_RESPONSE;
    }
  }
  // The tags in the order a portal developer meets them, and an example on every operation.
  orderDocument(document);
  addExamples(document);
  return document;
}

/**
 * Deterministic JSON: keys sorted at every level so diffs of the committed file stay small —
 * except the paths and the methods of each path, which keep the document's order (tag by
 * tag, see orderDocument) so that a viewer of the file lists the operations as Swagger UI does.
 */
export function stableStringify(value: unknown): string {
  // `at`: the keys leading to v. Under `paths`, the paths (at = ['paths']) and each path's
  // methods (at = ['paths', path]) keep their order.
  const sort = (v: unknown, at: string[] = []): unknown => {
    if (Array.isArray(v)) return v.map((item) => sort(item, [...at, '[]']));
    if (v && typeof v === 'object') {
      const keys = Object.keys(v as object);
      if (at[0] !== 'paths' || at.length > 2) keys.sort();
      return Object.fromEntries(keys.map((k) => [k, sort((v as Record<string, unknown>)[k], [...at, k])]));
    }
    return v;
  };
  return JSON.stringify(sort(value), null, 2) + '\n';
}
