import { Body, Controller, Headers, Post, Req, Res, SetMetadata } from '@nestjs/common';
import { ApiBody, ApiCreatedResponse, ApiExtraModels, ApiHeader, ApiOperation, ApiResponse, ApiTags, getSchemaPath } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { CurrentCaller } from '../auth/current-caller.decorator';
import { BodyLimit } from '../common/body-limit';
import { OWN_IDEMPOTENCY } from '../common/idempotency/idempotency.interceptor';
import { parseIdempotencyKey, REPLAYED_HEADER } from '../common/idempotency/idempotency.service';
import { ApiProblems } from '../common/openapi/api-problems.decorator';
import { FieldError, PROBLEM_CONTENT_TYPE, ProblemBody, ReplayedProblem, ValidationProblem } from '../common/problem/problem';
import { Caller } from '../tree/caller';
import { BalancesService, BatchOperation } from './balances.service';
import { BatchRefusedProblemDto, BatchRequestDto, BatchResultDto, MAX_BATCH_OPERATIONS } from './dto/batch.dto';
import { IDEMPOTENCY_KEY_HEADER_DOC } from './operation-answer';
import { batchInput } from './batch-input';

/**
 * A 1,000-operation body with the longest notes (1,024 characters, each up to 6 bytes as a
 * JSON escape) stays below this; every other route keeps the global 1 MiB.
 */
export const BATCH_BODY_LIMIT = 8 * 1024 * 1024;

/** What the validation pipe cannot say alone: exactly one target per operation, allowOverdraft on debits only. */
function operationErrors(body: BatchRequestDto): FieldError[] {
  const errors: FieldError[] = [];
  body.operations.forEach((op, index) => {
    if ((op.customerId === undefined) === (op.accountId === undefined)) {
      errors.push({ pointer: `/operations/${index}`, detail: 'each operation needs exactly one of customerId and accountId' });
    }
    if (op.allowOverdraft !== undefined && op.action !== 'debit') {
      errors.push({ pointer: `/operations/${index}/allowOverdraft`, detail: 'allowOverdraft applies to debits only' });
    }
  });
  return errors;
}

@ApiTags('balances')
@ApiExtraModels(BatchRefusedProblemDto)
@Controller('v1/balance-operations')
export class BatchBalancesController {
  constructor(private readonly balances: BalancesService) {}

  @Post('batch')
  @SetMetadata(OWN_IDEMPOTENCY, true)
  @BodyLimit(BATCH_BODY_LIMIT)
  @ApiOperation({
    summary: `Apply 1–${MAX_BATCH_OPERATIONS} balance operations on customers and accounts, all or none.`,
    description:
      'Each operation is what `POST /v1/customers/{id}/balance-operations` (with `customerId`) or `POST /v1/accounts/{id}/balance-operations` ' +
      '(with `accountId`) takes, checked as there (visibility, `balances.operate`, conversion, credit). They apply in order — several ' +
      'on one target one after the other, each entry with its own `balanceAfter` — and all in one transaction: if any is refused, ' +
      'nothing is written and the answer is a `422 batch-refused` listing every refused operation with its pointer (`/operations/17`), ' +
      'its problem type, detail and members such as `availableCredit`. An `externalReference` already on the target’s ledger (`existingEntryId`), or given ' +
      'for the same target by an earlier operation of the batch (`duplicateOf`), is a `duplicate-reference` item. One `Idempotency-Key` covers the batch. Bodies up to 8 MiB.',
  })
  @ApiHeader(IDEMPOTENCY_KEY_HEADER_DOC)
  @ApiBody({ type: BatchRequestDto })
  @ApiCreatedResponse({
    type: BatchResultDto,
    description: 'Every operation applied; the ledger entries in request order.',
  })
  @ApiResponse({
    status: 422,
    description: 'At least one operation was refused (`batch-refused`): nothing was written. Also `idempotency-key-reused`.',
    content: {
      [PROBLEM_CONTENT_TYPE]: {
        schema: { $ref: getSchemaPath(BatchRefusedProblemDto) },
        example: {
          type: 'https://canopy.dev/problems/batch-refused',
          title: 'Batch refused',
          status: 422,
          detail: '2 of 3 operations were refused; nothing was written.',
          instance: '/v1/balance-operations/batch',
          errors: [
            {
              pointer: '/operations/0',
              type: 'https://canopy.dev/problems/insufficient-funds',
              title: 'Insufficient funds',
              detail: 'The debit would take available credit below zero (available: 12.50).',
              availableCredit: '12.50',
            },
            { pointer: '/operations/2', type: 'https://canopy.dev/problems/not-found', title: 'Not Found', detail: 'The account does not exist.' },
          ],
        },
      },
    },
  })
  @ApiProblems(400, 409, 413)
  async createBalanceOperationBatch(
    @CurrentCaller() caller: Caller,
    @Body() raw: unknown,
    @Headers('idempotency-key') idempotencyKey: string | undefined,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<BatchResultDto> {
    const body = await batchInput(raw);
    const key = parseIdempotencyKey(idempotencyKey, true)!;
    const errors = operationErrors(body);
    if (errors.length) throw new ValidationProblem(errors);
    const operations = body.operations.map(
      ({ customerId, accountId, ...input }): BatchOperation => ({ kind: customerId ? 'customer' : 'account', id: (customerId ?? accountId)!, input }),
    );
    const path = request.url.split('?')[0];
    const result = await this.balances.batch(caller, operations, key, path, request.body);
    const headers: Record<string, string> = result.replayed ? { [REPLAYED_HEADER]: 'true' } : {};
    if (result.response.status >= 400) throw new ReplayedProblem(result.response.body as ProblemBody, headers);
    void reply.headers(headers);
    return result.response.body as BatchResultDto;
  }
}
