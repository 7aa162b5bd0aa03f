import { Body, Controller, Get, HttpCode, Post, Query } from '@nestjs/common';
import { ApiBody, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentCaller } from '../auth/current-caller.decorator';
import { BodyLimit } from '../common/body-limit';
import { ApiProblems } from '../common/openapi/api-problems.decorator';
import { UuidParam } from '../common/openapi/uuid-param';
import { DEFAULT_PAGE_SIZE } from '../common/pagination';
import { ExpensiveEndpoint } from '../common/rate-limit';
import { Caller } from '../tree/caller';
import { CallViewsService } from './call-views.service';
import { callsInput, MAX_CALLS_PER_REQUEST } from './calls-input';
import { CallsService } from './calls.service';
import { CallDto } from './dto/call.dto';
import { CallListQueryDto, CallPageDto } from './dto/call-query.dto';
import { PostCallsRequestDto, PostCallsResultDto } from './dto/post-calls.dto';
import { UsagePageDto, UsageQueryDto } from './dto/usage.dto';

/** 1,000 calls with the longest callIds (128 characters, each up to 6 bytes as a JSON escape) stay below this. */
export const CALLS_BODY_LIMIT = 2 * 1024 * 1024;

/**
 * Calls (SPEC §13): posting them, and their views and the usage report, where each caller
 * sees its own business and nothing above it.
 */
@ApiTags('calls')
@Controller('v1')
export class CallsController {
  constructor(
    private readonly calls: CallsService,
    private readonly views: CallViewsService,
  ) {}

  @Post('calls')
  @HttpCode(200)
  @BodyLimit(CALLS_BODY_LIMIT)
  @ApiOperation({
    operationId: 'postCalls',
    summary: `Post 1–${MAX_CALLS_PER_REQUEST} calls: each rated and charged at every level of its account’s chain.`,
    description:
      'Right `usage.post`; every account in the caller’s subtree or its own. Each call is rated at every level below the root with that ' +
      'level’s tariff (the rate in effect at `connectTime`) and charged as a `usage` ledger entry (overdraft allowed), all levels of a call ' +
      'together or none. Calls are independent: the answer lists one result per call in request order — `rated`, `replayed` (the same ' +
      '`callId` posted before with the same fields: the original result) or `refused` with its problem (400 with pointers such as ' +
      '`/calls/3/duration`, 404 account, 409 call-conflict, 422 no-rate / missing-exchange-rate / amount-out-of-range). A refused call ' +
      'leaves nothing behind. `callId` is idempotent per poster, forever. Bodies up to 2 MiB.',
  })
  @ApiBody({ type: PostCallsRequestDto })
  @ApiOkResponse({ type: PostCallsResultDto, description: 'One result per call, in request order.' })
  @ApiProblems(400, 403, 413)
  async postCalls(@CurrentCaller() caller: Caller, @Body() body: unknown): Promise<PostCallsResultDto> {
    return { items: await this.calls.post(caller, callsInput(body)) };
  }

  @Get('calls')
  @ExpensiveEndpoint('call-lists')
  @ApiOperation({
    summary: 'List the calls of the caller’s subtree (or of an account, a customer, a subtree), newest first.',
    description:
      'Each call as the caller sees it: the charges of its subtree and itself only, and its own revenue, cost and margin. Ordered by `connectTime`, newest first (then by id).',
  })
  @ApiOkResponse({ type: CallPageDto })
  @ApiProblems(400, 404, 429)
  listCalls(@CurrentCaller() caller: Caller, @Query() query: CallListQueryDto): Promise<CallPageDto> {
    return this.views.list(caller, query, query.limit ?? DEFAULT_PAGE_SIZE);
  }

  @Get('calls/:id')
  @ApiOperation({ summary: 'Get a call of the caller’s subtree (or of its own accounts), as the caller sees it.' })
  @ApiOkResponse({ type: CallDto })
  @ApiProblems(400, 404)
  getCall(@CurrentCaller() caller: Caller, @UuidParam() id: string): Promise<CallDto> {
    return this.views.get(caller, id);
  }

  @Get('usage')
  @ExpensiveEndpoint('usage-reports')
  @ApiOperation({
    summary: 'Usage per account, customer, day or prefix, from the caller’s side (or a visible customer’s, `customerId`).',
    description:
      'Calls, seconds, billed seconds, revenue, cost and margin per group over a range of days in the caller’s time zone (default: the current month so far; at most 366 days). Groups come in key order, paged.',
  })
  @ApiOkResponse({ type: UsagePageDto })
  @ApiProblems(400, 404, 429)
  getUsage(@CurrentCaller() caller: Caller, @Query() query: UsageQueryDto): Promise<UsagePageDto> {
    return this.views.usage(caller, query, query.limit ?? DEFAULT_PAGE_SIZE);
  }
}
