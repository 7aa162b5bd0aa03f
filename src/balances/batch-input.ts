import { metadataError } from '../common/metadata';
import { NON_NEGATIVE_DECIMAL_PATTERN } from '../common/money';
import { ProblemValidationPipe } from '../common/problem/validation.pipe';
import { isCurrencyCode } from '../reference/currency-data';
import { BalanceOperationDto, isExternalReference, OPERATION_ACTIONS } from './dto/balance-operation.dto';
import { BatchOperationDto, BatchRequestDto, MAX_BATCH_OPERATIONS } from './dto/batch.dto';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const OPERATION_KEYS = ['action', 'amount', 'currency', 'notes', 'allowOverdraft', 'externalReference', 'metadata'];
const KEYS = new Set(['customerId', 'accountId', ...OPERATION_KEYS]);
const SINGLE_KEYS = new Set(OPERATION_KEYS);
const ACTIONS = new Set<string>(OPERATION_ACTIONS);

/**
 * Whether one operation is plainly valid: a strictly narrower test than BatchOperationDto's
 * (every operation it accepts, the DTO accepts as it is), cheap enough for 1,000 of them.
 */
function plainlyValid(op: unknown, keys: ReadonlySet<string> = KEYS): op is BatchOperationDto {
  if (op === null || typeof op !== 'object' || Array.isArray(op)) return false;
  const o = op as Record<string, unknown>;
  for (const key in o) if (!keys.has(key)) return false;
  if (o.customerId !== undefined && !(typeof o.customerId === 'string' && UUID.test(o.customerId))) return false;
  if (o.accountId !== undefined && !(typeof o.accountId === 'string' && UUID.test(o.accountId))) return false;
  if (typeof o.action !== 'string' || !ACTIONS.has(o.action)) return false;
  if (typeof o.amount !== 'string' || !NON_NEGATIVE_DECIMAL_PATTERN.test(o.amount) || !/[1-9]/.test(o.amount)) return false;
  if (o.currency !== undefined && !isCurrencyCode(o.currency)) return false;
  if (o.notes !== undefined && !(typeof o.notes === 'string' && o.notes.length <= 1024 && !o.notes.includes('\u0000'))) return false;
  if (o.allowOverdraft !== undefined && typeof o.allowOverdraft !== 'boolean') return false;
  if (o.externalReference !== undefined && !isExternalReference(o.externalReference)) return false;
  if (o.metadata !== undefined && metadataError(o.metadata) !== undefined) return false;
  return true;
}

const pipe = new ProblemValidationPipe();

/**
 * The batch body, validated: a body whose every operation is plainly valid is taken as it is
 * (validating 1,000 nested DTOs costs more than posting them); anything else goes through the
 * validation pipe with BatchRequestDto, which gives the exact 400 with its pointers (or
 * accepts what the quick test was too narrow for).
 */
export async function batchInput(body: unknown): Promise<BatchRequestDto> {
  if (body !== null && typeof body === 'object' && !Array.isArray(body)) {
    const b = body as Record<string, unknown>;
    const ops = b.operations;
    if (
      Object.keys(b).length === 1 &&
      Array.isArray(ops) &&
      ops.length >= 1 &&
      ops.length <= MAX_BATCH_OPERATIONS &&
      ops.every((op, i) => i in ops && plainlyValid(op))
    ) {
      return b as unknown as BatchRequestDto;
    }
  }
  return (await pipe.transform(body, { type: 'body', metatype: BatchRequestDto, data: undefined })) as BatchRequestDto;
}

/**
 * The body of a single balance operation, validated as `batchInput` validates a batch's: a
 * plainly valid body (the common case) is taken as it is, without class-validator and
 * class-transformer (their share of a posting's CPU was larger than the rest of the edge's);
 * anything else goes through the validation pipe with BalanceOperationDto, which gives the
 * exact 400 (or accepts what the quick test was too narrow for).
 */
export async function operationInput(body: unknown): Promise<BalanceOperationDto> {
  if (plainlyValid(body, SINGLE_KEYS)) return body as unknown as BalanceOperationDto;
  return (await pipe.transform(body, { type: 'body', metatype: BalanceOperationDto, data: undefined })) as BalanceOperationDto;
}
