import { Body, Controller, Delete, Get, Header, HttpCode, Post, Query } from '@nestjs/common';
import { ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiProblems } from '../common/openapi/api-problems.decorator';
import { UuidParam } from '../common/openapi/uuid-param';
import { DEFAULT_PAGE_SIZE, PageQueryDto } from '../common/pagination';
import { Caller } from '../tree/caller';
import { ApiKeysService } from './api-keys.service';
import { CurrentCaller } from './current-caller.decorator';
import { ApiKeyPageDto, CreateApiKeyDto, CreatedApiKeyDto } from './dto/api-key.dto';

@ApiTags('api-keys')
@Controller('v1/api-keys')
export class ApiKeysController {
  constructor(private readonly keys: ApiKeysService) {}

  @Post()
  @Header('Cache-Control', 'no-store')
  @ApiOperation({ summary: 'Create an API key; the secret is in this response only.' })
  @ApiCreatedResponse({ type: CreatedApiKeyDto })
  @ApiProblems(400, 403)
  createApiKey(@CurrentCaller() caller: Caller, @Body() body: CreateApiKeyDto): Promise<CreatedApiKeyDto> {
    return this.keys.create(caller, body);
  }

  @Get()
  @ApiOperation({ summary: 'List the caller’s live API keys (never their secrets).' })
  @ApiOkResponse({ type: ApiKeyPageDto })
  @ApiProblems(400)
  listApiKeys(@CurrentCaller() caller: Caller, @Query() query: PageQueryDto): Promise<ApiKeyPageDto> {
    return this.keys.list(caller, query.limit ?? DEFAULT_PAGE_SIZE, query.cursor);
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Revoke an API key; its tokens stop working at once.' })
  @ApiNoContentResponse()
  @ApiProblems(400, 403, 404)
  async revokeApiKey(@CurrentCaller() caller: Caller, @UuidParam() id: string): Promise<void> {
    await this.keys.revoke(caller, id);
  }
}
