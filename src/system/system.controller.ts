import { Body, Controller, Delete, Get, Headers, HttpCode, Patch, Post, Query, Res } from '@nestjs/common';
import { ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { CurrentCaller } from '../auth/current-caller.decorator';
import { etagOf, expectedVersion } from '../common/etag';
import { ApiProblems } from '../common/openapi/api-problems.decorator';
import { ApiIfMatch } from '../common/openapi/etag.decorators';
import { UuidParam } from '../common/openapi/uuid-param';
import { DEFAULT_PAGE_SIZE } from '../common/pagination';
import { Caller } from '../tree/caller';
import {
  CreateRoutingGroupDto,
  RoutingGroupDto,
  RoutingGroupListQueryDto,
  RoutingGroupPageDto,
  SystemSettingsDto,
  UpdateRoutingGroupDto,
  UpdateSystemSettingsDto,
} from './dto/system.dto';
import { RoutingGroupsService } from './routing-groups.service';
import { SystemSettingsService } from './system-settings.service';

@ApiTags('system')
@Controller('v1/system/settings')
export class SystemSettingsController {
  constructor(private readonly settings: SystemSettingsService) {}

  @Get()
  @ApiOperation({ summary: 'System-wide settings (needs system.read).' })
  @ApiOkResponse({ type: SystemSettingsDto })
  @ApiProblems(403)
  async getSystemSettings(@CurrentCaller() caller: Caller, @Res({ passthrough: true }) reply: FastifyReply): Promise<SystemSettingsDto> {
    const settings = await this.settings.get(caller);
    void reply.header('etag', etagOf(settings.version));
    return settings;
  }

  @Patch()
  @ApiOperation({ summary: 'Change system-wide settings (needs system.write).' })
  @ApiIfMatch()
  @ApiOkResponse({ type: SystemSettingsDto })
  @ApiProblems(400, 403, 412)
  async updateSystemSettings(
    @CurrentCaller() caller: Caller,
    @Body() body: UpdateSystemSettingsDto,
    @Headers('if-match') ifMatch: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<SystemSettingsDto> {
    const settings = await this.settings.update(caller, body, expectedVersion(ifMatch));
    void reply.header('etag', etagOf(settings.version));
    return settings;
  }
}

@ApiTags('system')
@Controller('v1/routing-groups')
export class RoutingGroupsController {
  constructor(private readonly groups: RoutingGroupsService) {}

  @Get()
  @ApiOperation({ summary: 'List routing groups (needs system.read).' })
  @ApiOkResponse({ type: RoutingGroupPageDto })
  @ApiProblems(400, 403)
  listRoutingGroups(@CurrentCaller() caller: Caller, @Query() query: RoutingGroupListQueryDto): Promise<RoutingGroupPageDto> {
    return this.groups.list(caller, query.limit ?? DEFAULT_PAGE_SIZE, query.cursor);
  }

  @Post()
  @ApiOperation({ summary: 'Create a routing group (needs system.write).' })
  @ApiCreatedResponse({ type: RoutingGroupDto })
  @ApiProblems(400, 403, 409)
  createRoutingGroup(@CurrentCaller() caller: Caller, @Body() body: CreateRoutingGroupDto): Promise<RoutingGroupDto> {
    return this.groups.create(caller, body);
  }

  @Get(':id')
  @ApiOperation({ summary: 'Get a routing group (needs system.read).' })
  @ApiOkResponse({ type: RoutingGroupDto })
  @ApiProblems(400, 403, 404)
  async getRoutingGroup(@CurrentCaller() caller: Caller, @UuidParam() id: string, @Res({ passthrough: true }) reply: FastifyReply): Promise<RoutingGroupDto> {
    const group = await this.groups.get(caller, id);
    void reply.header('etag', etagOf(group.version));
    return group;
  }

  @Patch(':id')
  @ApiOperation({ summary: 'Change a routing group (needs system.write).' })
  @ApiIfMatch()
  @ApiOkResponse({ type: RoutingGroupDto })
  @ApiProblems(400, 403, 404, 409, 412)
  async updateRoutingGroup(
    @CurrentCaller() caller: Caller,
    @UuidParam() id: string,
    @Body() body: UpdateRoutingGroupDto,
    @Headers('if-match') ifMatch: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<RoutingGroupDto> {
    const group = await this.groups.update(caller, id, body, expectedVersion(ifMatch));
    void reply.header('etag', etagOf(group.version));
    return group;
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete a routing group (refused while customers or accounts use it; needs system.write).' })
  @ApiIfMatch()
  @ApiNoContentResponse()
  @ApiProblems(400, 403, 404, 409, 412)
  async deleteRoutingGroup(@CurrentCaller() caller: Caller, @UuidParam() id: string, @Headers('if-match') ifMatch: string | undefined): Promise<void> {
    await this.groups.remove(caller, id, expectedVersion(ifMatch));
  }
}
