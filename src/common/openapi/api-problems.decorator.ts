import { applyDecorators } from '@nestjs/common';
import { ApiResponse, getSchemaPath } from '@nestjs/swagger';
import { STATUS_CODES } from 'node:http';
import { PROBLEM_CONTENT_TYPE } from '../problem/problem';
import { ProblemDto } from './problem.dto';

export const problemContent = () => ({
  [PROBLEM_CONTENT_TYPE]: { schema: { $ref: getSchemaPath(ProblemDto) } },
});

const DESCRIPTIONS: Record<number, string> = {
  400: 'Invalid request: `errors` lists each field or parameter at fault.',
  401: 'Missing, invalid or expired credentials.',
  403: 'The caller lacks the permission named in the problem.',
  404: 'No such object, or not visible to the caller (the two are indistinguishable).',
  409: 'Conflicts with the current state.',
  410: 'What was asked for is no longer kept (e.g. events past their retention: `events-expired`).',
  412: 'If-Match does not match the current ETag.',
  413: 'Request body too large.',
  415: 'Unsupported Content-Type.',
  422: 'Well-formed but not processable (e.g. insufficient funds, missing exchange rate).',
  429: 'Too many requests; see Retry-After.',
  503: 'Not ready.',
};

/** Documents the problem responses an operation can give. */
export function ApiProblems(...statuses: number[]) {
  return applyDecorators(
    ...statuses.map((status) =>
      ApiResponse({
        status,
        description: DESCRIPTIONS[status] ?? STATUS_CODES[status] ?? 'Error',
        content: problemContent(),
      }),
    ),
  );
}
