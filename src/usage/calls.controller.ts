import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { ApiBody, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentCaller } from '../auth/current-caller.decorator';
import { BodyLimit } from '../common/body-limit';
import { ApiProblems } from '../common/openapi/api-problems.decorator';
import { Caller } from '../tree/caller';
import { callsInput, MAX_CALLS_PER_REQUEST } from './calls-input';
import { CallsService } from './calls.service';
import { PostCallsRequestDto, PostCallsResultDto } from './dto/post-calls.dto';

/** 1,000 calls with the longest callIds (128 characters, each up to 6 bytes as a JSON escape) stay below this. */
export const CALLS_BODY_LIMIT = 2 * 1024 * 1024;

@ApiTags('calls')
@Controller('v1/calls')
export class CallsController {
  constructor(private readonly calls: CallsService) {}

  @Post()
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
}
