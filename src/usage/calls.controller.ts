import { Controller, Get, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentCaller } from '../auth/current-caller.decorator';
import { ApiProblems } from '../common/openapi/api-problems.decorator';
import { UuidParam } from '../common/openapi/uuid-param';
import { DEFAULT_PAGE_SIZE } from '../common/pagination';
import { ExpensiveEndpoint } from '../common/rate-limit';
import { Caller } from '../tree/caller';
import { CallViewsService } from './call-views.service';
import { CallDto } from './dto/call.dto';
import { CallListQueryDto, CallPageDto } from './dto/call-query.dto';
import { UsagePageDto, UsageQueryDto } from './dto/usage.dto';

/** The views of rated calls and the usage report (SPEC §13): each caller sees its own business, nothing above it. */
@ApiTags('calls')
@Controller('v1')
export class CallsController {
  constructor(private readonly views: CallViewsService) {}

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
