import { BadRequestException } from '@nestjs/common';
import { ProblemError } from './problem';
import { toProblem } from './to-problem';

describe('toProblem', () => {
  it('hides unexpected errors behind a 500 that carries the request id', () => {
    const outcome = toProblem(new Error('relation "secret_table" does not exist'), '/v1/x', 'req-42');
    expect(outcome.unexpected).toBe(true);
    expect(outcome.body).toEqual({
      type: 'https://canopy.dev/problems/internal-error',
      title: 'Internal Server Error',
      status: 500,
      detail: 'An unexpected error occurred. Quote request id req-42 when reporting it.',
      instance: '/v1/x',
      requestId: 'req-42',
    });
    expect(JSON.stringify(outcome.body)).not.toContain('secret_table');
  });

  it('keeps domain members and turns retryAfterSeconds into a header', () => {
    const outcome = toProblem(
      new ProblemError(429, 'too-many-attempts', 'Too many attempts', 'Wait.', { retryAfterSeconds: 30 }),
      '/v1/auth/login',
      'r',
    );
    expect(outcome.headers).toEqual({ 'retry-after': '30' });
    expect(outcome.body).toEqual({
      type: 'https://canopy.dev/problems/too-many-attempts',
      title: 'Too many attempts',
      status: 429,
      detail: 'Wait.',
      instance: '/v1/auth/login',
    });
  });

  it('maps Nest HTTP exceptions by status', () => {
    const outcome = toProblem(new BadRequestException('nope'), '/p', 'r');
    expect(outcome.body).toMatchObject({ status: 400, title: 'Bad Request', detail: 'nope' });
  });
});
