import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentCaller } from '../auth/current-caller.decorator';
import { ApiProblems } from '../common/openapi/api-problems.decorator';
import { Caller } from '../tree/caller';
import { AuthorizeService } from './authorize.service';
import { AuthorizeCallDto, CallAuthorizationDto } from './dto/authorize.dto';

@ApiTags('calls')
@Controller('v1/calls/authorize')
export class AuthorizeController {
  constructor(private readonly service: AuthorizeService) {}

  @Post()
  @HttpCode(200)
  @ApiOperation({
    summary: 'Before connecting a call: the longest duration every charged level can pay for.',
    description:
      'Right `usage.post`. Each level from the account up is priced exactly as the posting prices it (its rate at `connectTime`, free seconds, billing intervals, connect fees, converted with its seller’s exchange-rate table) and must stay within its available credit (balance + credit limit). `maxDuration` is the smallest of the levels’ maxima (at most 86,400); `limitedBy` names the level that gives it. A level with no tariff, rate or exchange rate for the call limits it to 0; a level whose price is zero never limits. Only the levels at or below the caller are considered: the root sees the whole chain. Nothing is written.',
  })
  @ApiOkResponse({ type: CallAuthorizationDto })
  @ApiProblems(400, 403, 404)
  authorizeCall(@CurrentCaller() caller: Caller, @Body() body: AuthorizeCallDto): Promise<CallAuthorizationDto> {
    return this.service.authorize(caller, body);
  }
}
