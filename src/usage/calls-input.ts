import { FieldError, ValidationProblem } from '../common/problem/problem';
import { DATE_TIME_MESSAGE, NUMBER_PATTERN, parseDateTime } from '../tariffs/rates/rate-rules';
import { MAX_CALL_SECONDS } from './rating';

/** The most calls one `POST /v1/calls` takes. */
export const MAX_CALLS_PER_REQUEST = 1000;
export const MAX_CALL_ID_LENGTH = 128;

/** One call as posted, checked: `connectTime` parsed to its instant. */
export interface PostedCall {
  callId: string;
  accountId: string;
  number: string;
  connectTime: Date;
  duration: number;
}

/** Each item of the body: the call, or the errors that refuse it (pointers into the whole body). */
export type CallInput = { call: PostedCall } | { errors: FieldError[]; callId: string };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const FIELDS = ['callId', 'accountId', 'number', 'connectTime', 'duration'];
const KNOWN = new Set(FIELDS);

/** One item: its call, or every field error it has, each with its pointer (`/calls/3/duration`). */
function item(value: unknown, index: number): CallInput {
  const at = (field?: string) => `/calls/${index}${field ? `/${field}` : ''}`;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return { errors: [{ pointer: at(), detail: 'each call must be an object' }], callId: '' };
  const o = value as Record<string, unknown>;
  const errors: FieldError[] = [];
  for (const key of Object.keys(o)) if (!KNOWN.has(key)) errors.push({ pointer: at(key), detail: `property ${key} should not exist` });
  for (const key of FIELDS) if (o[key] === undefined || o[key] === null) errors.push({ pointer: at(key), detail: `${key} is required` });
  const { callId, accountId, number, connectTime, duration } = o;
  if (callId != null && !(typeof callId === 'string' && callId.length >= 1 && callId.length <= MAX_CALL_ID_LENGTH && !callId.includes('\u0000'))) {
    errors.push({ pointer: at('callId'), detail: `callId must be a string of 1–${MAX_CALL_ID_LENGTH} characters` });
  }
  if (accountId != null && !(typeof accountId === 'string' && UUID.test(accountId))) errors.push({ pointer: at('accountId'), detail: 'accountId must be a UUID' });
  if (number != null && !(typeof number === 'string' && NUMBER_PATTERN.test(number))) {
    errors.push({ pointer: at('number'), detail: 'number must be 1–32 digits (0-9), optionally after a leading "+"' });
  }
  const instant = typeof connectTime === 'string' ? parseDateTime(connectTime) : undefined;
  if (connectTime != null && !instant) errors.push({ pointer: at('connectTime'), detail: `connectTime ${DATE_TIME_MESSAGE}` });
  if (duration != null && !(typeof duration === 'number' && Number.isInteger(duration) && duration >= 0 && duration <= MAX_CALL_SECONDS)) {
    errors.push({ pointer: at('duration'), detail: `duration must be a whole number of seconds from 0 to ${MAX_CALL_SECONDS}` });
  }
  if (errors.length) return { errors, callId: typeof callId === 'string' ? callId : '' };
  return { call: { callId: callId as string, accountId: (accountId as string).toLowerCase(), number: number as string, connectTime: instant!, duration: duration as number } };
}

/**
 * The body of `POST /v1/calls`, checked by hand (validating 1,000 nested DTOs costs more
 * than rating them): a malformed body (not an object, `calls` missing or not an array, an
 * unknown top-level field, no call or more than 1,000) is a whole-request 400; otherwise each
 * item is its call or its own field errors, which refuse that item only.
 */
export function callsInput(body: unknown): CallInput[] {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new ValidationProblem([{ pointer: '', detail: 'the body must be a JSON object {"calls": [...]}' }]);
  }
  const b = body as Record<string, unknown>;
  const errors: FieldError[] = Object.keys(b)
    .filter((key) => key !== 'calls')
    .map((key) => ({ pointer: `/${key}`, detail: `property ${key} should not exist` }));
  const calls = b.calls;
  if (!Array.isArray(calls)) errors.push({ pointer: '/calls', detail: 'calls must be an array of 1–1,000 calls' });
  else if (calls.length < 1) errors.push({ pointer: '/calls', detail: 'calls must hold at least 1 call' });
  else if (calls.length > MAX_CALLS_PER_REQUEST) {
    errors.push({ pointer: '/calls', detail: `calls must hold at most ${MAX_CALLS_PER_REQUEST} calls (the limit per request); this one has ${calls.length}` });
  }
  if (errors.length) throw new ValidationProblem(errors);
  return (calls as unknown[]).map((value, index) => item(value, index));
}
