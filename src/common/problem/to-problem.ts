import { HttpException, HttpStatus } from '@nestjs/common';
import { STATUS_CODES } from 'node:http';
import { sqlState } from '../../database/sql';
import { AmountOutOfRangeProblem } from '../money';
import { OverloadedProblem, PROBLEM_TYPE_BASE, ProblemBody, ProblemError, ReplayedProblem } from './problem';

function titleFor(status: number): string {
  return STATUS_CODES[status] ?? 'Error';
}

function slugFromTitle(title: string): string {
  return title.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/(^-|-$)/g, '');
}

export interface ProblemOutcome {
  body: ProblemBody;
  /** True when the error is unexpected and must be logged with its stack. */
  unexpected: boolean;
  headers?: Record<string, string>;
}

/**
 * Maps any thrown value (Nest turns Fastify's own 4xx errors, such as a malformed body or a
 * body over the limit, into HttpExceptions before they get here) to a problem body. Nothing from an unexpected error (message,
 * stack, SQL) reaches the body: only the request id that is also in the log.
 */
export function toProblem(error: unknown, instance: string, requestId: string): ProblemOutcome {
  if (isOverload(error)) error = new OverloadedProblem();
  if (error instanceof ReplayedProblem) {
    return { unexpected: false, headers: error.headers, body: error.body };
  }
  // numeric_value_out_of_range: a value that does not fit NUMERIC(38,8) is checked before SQL
  // where it can arise; this is the safety net for anything that slipped through (SPEC §6).
  if (sqlState(error) === '22003') error = new AmountOutOfRangeProblem();
  if (error instanceof ProblemError) {
    const headers = { ...error.headers };
    if (error.members.retryAfterSeconds) headers['retry-after'] = String(error.members.retryAfterSeconds);
    const members = { ...error.members };
    delete members.retryAfterSeconds;
    return {
      unexpected: false,
      headers,
      body: {
        type: error.type,
        title: error.title,
        status: error.status,
        detail: error.message,
        instance,
        ...members,
      },
    };
  }
  if (error instanceof HttpException) {
    const status = error.getStatus();
    if (status < 500) {
      const title = titleFor(status);
      const response = error.getResponse();
      const detail =
        status === HttpStatus.NOT_FOUND
          ? 'No resource exists at this address.'
          : typeof response === 'string'
            ? response
            : typeof (response as { message?: unknown }).message === 'string'
              ? (response as { message: string }).message
              : title;
      return {
        unexpected: false,
        body: { type: PROBLEM_TYPE_BASE + slugFromTitle(title), title, status, detail, instance },
      };
    }
  }
  return {
    unexpected: true,
    body: {
      type: PROBLEM_TYPE_BASE + 'internal-error',
      title: 'Internal Server Error',
      status: 500,
      detail: `An unexpected error occurred. Quote request id ${requestId} when reporting it.`,
      instance,
      requestId,
    },
  };
}

/**
 * pg-pool's errors when no connection could be had in time (waiting in the queue, or opening
 * one), and pg's when a connection was lost (e.g. closed by the server after a timeout).
 */
const POOL_TIMEOUTS = new Set([
  'timeout exceeded when trying to connect',
  'Connection terminated due to connection timeout',
  'Connection terminated unexpectedly',
  'Connection terminated',
]);
/**
 * 57014 query_canceled (statement_timeout), 25P03 idle_in_transaction_session_timeout,
 * 55P03 lock_not_available (lock_timeout), 57P01/57P03 the server shutting down or starting,
 * 08xxx a connection lost.
 */
const OVERLOAD_STATES = new Set(['57014', '25P03', '55P03', '57P01', '57P03', '08000', '08001', '08003', '08006']);

/** A bound on the database was hit (SPEC §11, "Bursts"): the answer is a 503 to retry, not a 500. */
export function isOverload(error: unknown): boolean {
  if (error instanceof ProblemError || error instanceof HttpException) return false;
  const state = sqlState(error);
  if (state && OVERLOAD_STATES.has(state)) return true;
  const message = error instanceof Error ? error.message : undefined;
  const driverMessage = (error as { driverError?: { message?: string } } | undefined)?.driverError?.message;
  return POOL_TIMEOUTS.has(message ?? '') || POOL_TIMEOUTS.has(driverMessage ?? '');
}
