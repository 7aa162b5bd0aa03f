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

describe('toProblem past a database bound', () => {
  const overloaded = (error: unknown) => {
    const outcome = toProblem(error, '/v1/tariffs', 'r');
    expect(outcome.unexpected).toBe(false);
    expect(outcome.headers).toEqual({ 'retry-after': '1' });
    expect(outcome.body).toMatchObject({ type: 'https://canopy.dev/problems/overloaded', status: 503, instance: '/v1/tariffs' });
  };

  it('answers 503 overloaded with Retry-After to a pool wait that timed out', () => {
    overloaded(new Error('timeout exceeded when trying to connect'));
    overloaded(new Error('Connection terminated due to connection timeout'));
  });

  it('answers 503 overloaded to statement, idle-in-transaction and lock timeouts', () => {
    for (const code of ['57014', '25P03', '55P03']) overloaded(Object.assign(new Error('x'), { driverError: { code } }));
  });

  it('leaves other database errors a 500', () => {
    expect(toProblem(Object.assign(new Error('x'), { driverError: { code: '23505' } }), '/v1/x', 'r').body.status).toBe(500);
  });
});

describe('toProblem when the database connection was lost', () => {
  it('answers 503 to a connection closed under a request', () => {
    const outcome = toProblem(new Error('Connection terminated unexpectedly'), '/v1/me', 'r');
    expect(outcome.body.status).toBe(503);
    expect(outcome.headers).toEqual({ 'retry-after': '1' });
  });
});
