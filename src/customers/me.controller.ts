import { Body, Controller, Get, Patch } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentCaller } from '../auth/current-caller.decorator';
import { ApiProblems } from '../common/openapi/api-problems.decorator';
import { Caller } from '../tree/caller';
import { MeDto, UpdateMeDto } from './dto/me.dto';
import { MeService } from './me.service';

@ApiTags('me')
@Controller('v1/me')
export class MeController {
  constructor(private readonly me: MeService) {}

  @Get()
  @ApiOperation({ summary: 'The caller’s own record (no parent) with its effective permissions.' })
  @ApiOkResponse({ type: MeDto })
  getMe(@CurrentCaller() caller: Caller): Promise<MeDto> {
    return this.me.get(caller);
  }

  @Patch()
  @ApiOperation({ summary: 'Change one’s own password (current one required), time zone or language.' })
  @ApiOkResponse({ type: MeDto })
  @ApiProblems(400)
  updateMe(@CurrentCaller() caller: Caller, @Body() body: UpdateMeDto): Promise<MeDto> {
    return this.me.update(caller, body);
  }
}
