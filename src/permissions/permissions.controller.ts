import { Body, Controller, Get, Put, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentCaller } from '../auth/current-caller.decorator';
import { ApiProblems } from '../common/openapi/api-problems.decorator';
import { UuidParam } from '../common/openapi/uuid-param';
import { Cursors, DEFAULT_PAGE_SIZE, PageQueryDto } from '../common/pagination';
import { Caller } from '../tree/caller';
import { CustomerPermissionsDto, PermissionCatalogueDto, ReplacePermissionsDto } from './dto/permissions.dto';
import { ALL_PERMISSIONS, PERMISSIONS } from './permission.catalogue';
import { PermissionsService } from './permissions.service';

const CATALOGUE = ALL_PERMISSIONS.map((name) => ({ name, description: PERMISSIONS[name] }));

@ApiTags('permissions')
@Controller('v1')
export class PermissionsController {
  constructor(
    private readonly permissions: PermissionsService,
    private readonly cursors: Cursors,
  ) {}

  @Get('permissions')
  @ApiOperation({ summary: 'The catalogue of permissions with descriptions.' })
  @ApiOkResponse({ type: PermissionCatalogueDto })
  @ApiProblems(400)
  listPermissions(@Query() query: PageQueryDto): Promise<PermissionCatalogueDto> {
    return this.cursors.pageOf('permissions', CATALOGUE, (p) => p.name, query.limit ?? DEFAULT_PAGE_SIZE, query.cursor);
  }

  @Get('customers/:id/permissions')
  @ApiOperation({ summary: 'A visible customer’s grants and effective rights.' })
  @ApiOkResponse({ type: CustomerPermissionsDto })
  @ApiProblems(400, 404)
  getCustomerPermissions(@CurrentCaller() caller: Caller, @UuidParam() id: string): Promise<CustomerPermissionsDto> {
    return this.permissions.get(caller, id);
  }

  @Put('customers/:id/permissions')
  @ApiOperation({
    summary: 'Replace a descendant’s grants (needs permissions.grant, and only rights the caller holds).',
    description: 'Revoking a right here removes it at once from the whole subtree below, since effective rights are intersected down the tree.',
  })
  @ApiOkResponse({ type: CustomerPermissionsDto })
  @ApiProblems(400, 403, 404)
  replaceCustomerPermissions(
    @CurrentCaller() caller: Caller,
    @UuidParam() id: string,
    @Body() body: ReplacePermissionsDto,
  ): Promise<CustomerPermissionsDto> {
    return this.permissions.replace(caller, id, body.permissions);
  }
}
