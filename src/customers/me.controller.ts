import { Body, Controller, Get, Headers, Patch, Req, Res } from '@nestjs/common';
import { ApiExtraModels, ApiOkResponse, ApiOperation, ApiTags, getSchemaPath } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { CurrentCaller } from '../auth/current-caller.decorator';
import { etagOf, expectedVersion } from '../common/etag';
import { ApiProblems } from '../common/openapi/api-problems.decorator';
import { ApiIfMatch } from '../common/openapi/etag.decorators';
import { Caller } from '../tree/caller';
import { AccountMeDto, MeDto, UpdateMeDto } from './dto/me.dto';
import { MeService } from './me.service';

/** A customer's record, or an account principal's (self-care): told apart by `kind`. */
const ME_SCHEMA = {
  oneOf: [{ $ref: getSchemaPath(MeDto) }, { $ref: getSchemaPath(AccountMeDto) }],
  discriminator: { propertyName: 'kind', mapping: { customer: getSchemaPath(MeDto), account: getSchemaPath(AccountMeDto) } },
};

@ApiTags('me')
@ApiExtraModels(MeDto, AccountMeDto)
@Controller('v1/me')
export class MeController {
  constructor(private readonly me: MeService) {}

  @Get()
  @ApiOperation({
    summary: 'The caller’s own record (no parent) with its effective permissions.',
    description: 'A customer session gets its customer record (`kind: "customer"`); an account session (self-care) its account record (`kind: "account"`), nothing of its customer.',
  })
  @ApiOkResponse({ schema: ME_SCHEMA, headers: { ETag: { schema: { type: 'string' } } } })
  async getMe(@CurrentCaller() caller: Caller, @Res({ passthrough: true }) reply: FastifyReply): Promise<MeDto | AccountMeDto> {
    const me = await this.me.get(caller);
    void reply.header('etag', etagOf(me.version));
    return me;
  }

  @Patch()
  @ApiOperation({
    summary: 'Change one’s own password (current one required), time zone or language.',
    description:
      'A password change needs a session opened with the password: an API-key session gets 403 `password-session-required`. ' +
      'Wrong current passwords count against the login limiter (per login and per client address): past the limit, 429 with Retry-After. ' +
      'Every change is an audit event (`me.update`). ' +
      'An account session (self-care) changes its own account the same way (password, time zone, language; anything else is a 400); its audit event (`account.update`) names the account as the actor.',
  })
  @ApiIfMatch()
  @ApiOkResponse({ schema: ME_SCHEMA, headers: { ETag: { schema: { type: 'string' } } } })
  @ApiProblems(400, 403, 412, 429)
  async updateMe(
    @CurrentCaller() caller: Caller,
    @Body() body: UpdateMeDto,
    @Headers('if-match') ifMatch: string | undefined,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<MeDto | AccountMeDto> {
    const me = await this.me.update(caller, body, expectedVersion(ifMatch), request.ip);
    void reply.header('etag', etagOf(me.version));
    return me;
  }
}
