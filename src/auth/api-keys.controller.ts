import { Body, Controller, Delete, Get, Header, HttpCode, Post, Query } from '@nestjs/common';
import { ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { IdempotentReplay } from '../common/idempotency/idempotency.interceptor';
import { ApiProblems } from '../common/openapi/api-problems.decorator';
import { UuidParam } from '../common/openapi/uuid-param';
import { DEFAULT_PAGE_SIZE, PageQueryDto } from '../common/pagination';
import { Caller } from '../tree/caller';
import { ApiKeysService } from './api-keys.service';
import { CurrentCaller } from './current-caller.decorator';
import { ApiKeyPageDto, CreateApiKeyDto, CreatedApiKeyDto } from './dto/api-key.dto';

/** A created key's record as stored for idempotent replays: everything but the secret. */
export function withoutSecret(body: unknown): unknown {
  if (!body || typeof body !== 'object') return body;
  const { apiKey: _secret, ...record } = body as CreatedApiKeyDto;
  return record;
}

@ApiTags('api-keys')
@Controller('v1/api-keys')
export class ApiKeysController {
  constructor(private readonly keys: ApiKeysService) {}

  @Post()
  @Header('Cache-Control', 'no-store')
  // The secret is never stored, so never replayed; a replay still needs the right.
  @IdempotentReplay({ permission: 'api-keys.manage', store: withoutSecret })
  @ApiOperation({
    summary: 'Create an API key; the secret is in this response only.',
    description:
      'The secret (`apiKey`) is shown in this first response only and is stored nowhere but as a hash. ' +
      'Sent again with the same `Idempotency-Key` and body, the request is replayed (`Idempotent-Replayed: true`) ' +
      'with the key’s record **without `apiKey`**, and only while the caller still holds `api-keys.manage` ' +
      '(403 naming it otherwise). A client that lost the first answer revokes that key and makes a new one.',
  })
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
