import { Body, Controller, Get, Headers, Patch, Req, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { CurrentCaller } from '../auth/current-caller.decorator';
import { etagOf, expectedVersion } from '../common/etag';
import { ApiProblems } from '../common/openapi/api-problems.decorator';
import { ApiIfMatch } from '../common/openapi/etag.decorators';
import { SchemaSerialized } from '../common/openapi/response-schemas';
import { Caller } from '../tree/caller';
import { MeDto, UpdateMeDto } from './dto/me.dto';
import { MeService } from './me.service';

@ApiTags('me')
@Controller('v1/me')
export class MeController {
  constructor(private readonly me: MeService) {}

  @Get()
  @ApiOperation({ summary: 'The caller’s own record (no parent) with its effective permissions.' })
  @ApiOkResponse({ type: MeDto, headers: { ETag: { schema: { type: 'string' } } } })
  @SchemaSerialized()
  async getMe(@CurrentCaller() caller: Caller, @Res({ passthrough: true }) reply: FastifyReply): Promise<MeDto> {
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
      'Every change is an audit event (`me.update`).',
  })
  @ApiIfMatch()
  @ApiOkResponse({ type: MeDto, headers: { ETag: { schema: { type: 'string' } } } })
  @ApiProblems(400, 403, 412, 429)
  async updateMe(
    @CurrentCaller() caller: Caller,
    @Body() body: UpdateMeDto,
    @Headers('if-match') ifMatch: string | undefined,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<MeDto> {
    const me = await this.me.update(caller, body, expectedVersion(ifMatch), request.ip);
    void reply.header('etag', etagOf(me.version));
    return me;
  }
}
