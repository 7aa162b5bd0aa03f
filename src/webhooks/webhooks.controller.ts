import { Body, Controller, Delete, Get, Header, Headers, HttpCode, Patch, Post, Query, Res } from '@nestjs/common';
import { ApiAcceptedResponse, ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { CurrentCaller } from '../auth/current-caller.decorator';
import { etagOf, expectedVersion } from '../common/etag';
import { IdempotentReplay } from '../common/idempotency/idempotency.interceptor';
import { ApiProblems } from '../common/openapi/api-problems.decorator';
import { ApiIfMatch } from '../common/openapi/etag.decorators';
import { UuidParam } from '../common/openapi/uuid-param';
import { DEFAULT_PAGE_SIZE, PageQueryDto } from '../common/pagination';
import { Caller } from '../tree/caller';
import {
  CreatedWebhookEndpointDto,
  CreateWebhookEndpointDto,
  UpdateWebhookEndpointDto,
  WebhookDeliveryDto,
  WebhookDeliveryPageDto,
  WebhookEndpointDto,
  WebhookEndpointListQueryDto,
  WebhookEndpointPageDto,
} from './dto/webhook.dto';
import { WebhookEndpointsService } from './webhook-endpoints.service';

/** A created endpoint as stored for idempotent replays: everything but the secret. */
export function withoutSecret(body: unknown): unknown {
  if (!body || typeof body !== 'object') return body;
  const { secret: _secret, ...record } = body as CreatedWebhookEndpointDto;
  return record;
}

@ApiTags('webhooks')
@Controller('v1/webhook-endpoints')
export class WebhooksController {
  constructor(private readonly webhooks: WebhookEndpointsService) {}

  @Post()
  @Header('Cache-Control', 'no-store')
  @IdempotentReplay({ permission: 'webhooks.manage', store: withoutSecret })
  @ApiOperation({
    summary: 'Create a webhook endpoint; the signing secret is in this response only.',
    description:
      'The endpoint receives, as signed POSTs (Standard Webhooks), the events of its owner’s subtree whose types it lists. ' +
      'The secret (`secret`, `whsec_…`) is shown in this first response only; a replay under the same `Idempotency-Key` ' +
      'answers the record **without `secret`**. See docs/events.md, "Webhooks".',
  })
  @ApiCreatedResponse({ type: CreatedWebhookEndpointDto })
  @ApiProblems(400, 403, 404)
  async createWebhookEndpoint(
    @CurrentCaller() caller: Caller,
    @Body() body: CreateWebhookEndpointDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<CreatedWebhookEndpointDto> {
    const endpoint = await this.webhooks.create(caller, body);
    void reply.header('etag', etagOf(endpoint.version)).header('location', `/v1/webhook-endpoints/${endpoint.id}`);
    return endpoint;
  }

  @Get()
  @ApiOperation({ summary: 'List the webhook endpoints of the caller and its subtree, oldest first.' })
  @ApiOkResponse({ type: WebhookEndpointPageDto })
  @ApiProblems(400, 404)
  listWebhookEndpoints(@CurrentCaller() caller: Caller, @Query() query: WebhookEndpointListQueryDto): Promise<WebhookEndpointPageDto> {
    return this.webhooks.list(caller, query, query.limit ?? DEFAULT_PAGE_SIZE);
  }

  @Get(':id')
  @ApiOperation({ summary: 'Get a webhook endpoint (never its secret).' })
  @ApiOkResponse({ type: WebhookEndpointDto })
  @ApiProblems(400, 404)
  async getWebhookEndpoint(
    @CurrentCaller() caller: Caller,
    @UuidParam() id: string,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<WebhookEndpointDto> {
    const endpoint = await this.webhooks.get(caller, id);
    void reply.header('etag', etagOf(endpoint.version));
    return endpoint;
  }

  @Patch(':id')
  @ApiOperation({ summary: 'Change a webhook endpoint; `{"status": "enabled"}` re-enables one disabled after failing.' })
  @ApiIfMatch()
  @ApiOkResponse({ type: WebhookEndpointDto })
  @ApiProblems(400, 403, 404, 412)
  async updateWebhookEndpoint(
    @CurrentCaller() caller: Caller,
    @UuidParam() id: string,
    @Body() body: UpdateWebhookEndpointDto,
    @Headers('if-match') ifMatch: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<WebhookEndpointDto> {
    const endpoint = await this.webhooks.update(caller, id, body, expectedVersion(ifMatch));
    void reply.header('etag', etagOf(endpoint.version));
    return endpoint;
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete a webhook endpoint: nothing more is sent to it (attempts under way end).' })
  @ApiIfMatch()
  @ApiNoContentResponse()
  @ApiProblems(400, 403, 404, 412)
  async deleteWebhookEndpoint(
    @CurrentCaller() caller: Caller,
    @UuidParam() id: string,
    @Headers('if-match') ifMatch: string | undefined,
  ): Promise<void> {
    await this.webhooks.remove(caller, id, expectedVersion(ifMatch));
  }

  @Get(':id/deliveries')
  @ApiOperation({ summary: 'The endpoint’s deliveries, newest first: status, attempts and the next try.' })
  @ApiOkResponse({ type: WebhookDeliveryPageDto })
  @ApiProblems(400, 404)
  listWebhookDeliveries(@CurrentCaller() caller: Caller, @UuidParam() id: string, @Query() query: PageQueryDto): Promise<WebhookDeliveryPageDto> {
    return this.webhooks.listDeliveries(caller, id, query.cursor, query.limit ?? DEFAULT_PAGE_SIZE);
  }

  @Post(':id/test')
  @HttpCode(202)
  @ApiOperation({ summary: 'Send a `webhook.test` event to this endpoint only (not in the feed); answers its delivery.' })
  @ApiAcceptedResponse({ type: WebhookDeliveryDto })
  @ApiProblems(400, 403, 404, 409)
  sendWebhookTest(@CurrentCaller() caller: Caller, @UuidParam() id: string): Promise<WebhookDeliveryDto> {
    return this.webhooks.sendTest(caller, id);
  }
}
