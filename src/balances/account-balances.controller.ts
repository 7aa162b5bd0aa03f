import { Body, Controller, Get, Headers, Post, Query, Req, Res, SetMetadata } from '@nestjs/common';
import { ApiBody, ApiCreatedResponse, ApiHeader, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { CurrentCaller } from '../auth/current-caller.decorator';
import { OWN_IDEMPOTENCY } from '../common/idempotency/idempotency.interceptor';
import { ApiProblems } from '../common/openapi/api-problems.decorator';
import { UuidParam } from '../common/openapi/uuid-param';
import { DEFAULT_PAGE_SIZE } from '../common/pagination';
import { Caller } from '../tree/caller';
import { AccountHolders } from './account-holders';
import { BalancesService } from './balances.service';
import { answerOperation, IDEMPOTENCY_KEY_HEADER_DOC } from './operation-answer';
import { BalanceOperationDto, LedgerEntryDto, LedgerPageDto, LedgerQueryDto } from './dto/balance-operation.dto';

@ApiTags('balances')
@Controller('v1/accounts/:id/balance-operations')
export class AccountBalancesController {
  constructor(
    private readonly balances: BalancesService,
    private readonly holders: AccountHolders,
  ) {}

  @Post()
  @SetMetadata(OWN_IDEMPOTENCY, true)
  @ApiOperation({
    summary: 'Add funds to, credit or debit an account (its customer or anyone above it may).',
    description:
      'Money is a decimal string in the owning customer’s base currency unless `currency` says otherwise; other currencies are converted with the owning customer’s exchange-rate table. A debit that would take available credit below zero is a 422 `insufficient-funds` carrying `availableCredit`, unless `allowOverdraft` is true. An `externalReference` the target already has on its ledger is a 409 `duplicate-reference` naming the entry (`existingEntryId`), whatever the Idempotency-Key; `metadata` is kept on the entry.',
  })
  @ApiHeader(IDEMPOTENCY_KEY_HEADER_DOC)
  @ApiBody({ type: BalanceOperationDto })
  @ApiCreatedResponse({ type: LedgerEntryDto })
  @ApiProblems(400, 403, 404, 409, 422)
  createAccountBalanceOperation(
    @CurrentCaller() caller: Caller,
    @UuidParam() id: string,
    // Validated by answerOperation (operationInput: a quick check, else the pipe with this DTO).
    @Body() body: unknown,
    @Headers('idempotency-key') idempotencyKey: string | undefined,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<LedgerEntryDto> {
    return answerOperation(this.balances, this.holders, caller, id, body, idempotencyKey, request, reply);
  }

  @Get()
  @ApiOperation({ summary: 'The account’s ledger, newest first.', description: 'Filters: `action`, `from`, `to`, and `externalReference` (exact; answered from the reference index).' })
  @ApiOkResponse({ type: LedgerPageDto })
  @ApiProblems(400, 404)
  listAccountBalanceOperations(
    @CurrentCaller() caller: Caller,
    @UuidParam() id: string,
    @Query() query: LedgerQueryDto,
  ): Promise<LedgerPageDto> {
    return this.balances.ledger(caller, this.holders, id, query, query.limit ?? DEFAULT_PAGE_SIZE);
  }
}
