import { Inject, Injectable } from '@nestjs/common';
import { randomBytes, randomUUID } from 'node:crypto';
import { APP_CONFIG, AppConfig } from '../config/config';
import { Page } from '../common/pagination';
import { ConflictProblem, ValidationProblem } from '../common/problem/problem';
import { CustomersRepository } from '../customers/customers.repository';
import { AccessOptions, requireAccess } from '../database/access';
import { Writes } from '../database/writes';
import { Caller } from '../tree/caller';
import { notVisible } from '../tree/scope';
import {
  CreatedWebhookEndpointDto,
  CreateWebhookEndpointDto,
  UpdateWebhookEndpointDto,
  WebhookDeliveryDto,
  WebhookEndpointDto,
  WebhookEndpointListQueryDto,
} from './dto/webhook.dto';
import { TEST_EVENT_TYPE } from './event-types';
import { assertPublicHost, TargetRefusedError } from './target-guard';
import { WebhookDeliveriesRepository } from './webhook-deliveries.repository';
import { WebhookEndpointRow, WebhookEndpointsRepository } from './webhook-endpoints.repository';
import { WebhookRuntime } from './webhook-runtime';
import { toWebhookDeliveryDto, toWebhookEndpointDto } from './webhook-view';

const urlProblem = (detail: string) => new ValidationProblem([{ pointer: '/url', detail }]);

/** Webhook endpoints of the caller or a visible descendant (SPEC §14). */
@Injectable()
export class WebhookEndpointsService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly endpoints: WebhookEndpointsRepository,
    private readonly deliveries: WebhookDeliveriesRepository,
    private readonly owners: CustomersRepository,
    private readonly runtime: WebhookRuntime,
    private readonly writes: Writes,
  ) {}

  require(caller: Caller, id: string, options: Omit<AccessOptions, 'what'> = {}): Promise<WebhookEndpointRow> {
    return requireAccess(this.endpoints, caller, id, { ...options, what: 'webhook endpoint' });
  }

  /**
   * A target URL: http(s), no credentials in it, and (unless WEBHOOK_ALLOW_PRIVATE_TARGETS)
   * a host that is and resolves only to public addresses. Anything else is a 400 naming /url.
   */
  async checkUrl(raw: string): Promise<string> {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw urlProblem('url must be an absolute https:// or http:// URL');
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw urlProblem('url must be an https:// or http:// URL');
    if (url.username || url.password) throw urlProblem('url must not carry a user name or password');
    if (url.href.length > 2048) throw urlProblem('url must be at most 2048 characters');
    if (!this.config.WEBHOOK_ALLOW_PRIVATE_TARGETS) {
      try {
        await assertPublicHost(url.hostname);
      } catch (error) {
        if (error instanceof TargetRefusedError) throw urlProblem(`url is refused: ${error.message}`);
        throw error;
      }
    }
    return url.href;
  }

  async create(caller: Caller, input: CreateWebhookEndpointDto): Promise<CreatedWebhookEndpointDto> {
    const owner = await requireAccess(this.owners, caller, input.customerId ?? caller.customerId, { permission: 'webhooks.manage', what: 'customer' });
    const url = await this.checkUrl(input.url);
    // Standard Webhooks secret: whsec_ + base64 of 32 random bytes.
    const secret = `whsec_${randomBytes(32).toString('base64')}`;
    const endpoint = await this.writes.change(caller.customerId, async (tx) => {
      // No dispatcher pass runs from here to the commit, and the endpoint's creation time is taken
      // after this: every event of a later time is dispatched by a pass that sees the endpoint.
      await this.deliveries.unscopedHoldDispatchLock(tx);
      const row = await this.endpoints.insert(caller, tx, { ownerId: owner.id, url, eventTypes: input.events, description: input.description ?? '', secret });
      if (!row) throw notVisible(); // the owner went away meanwhile
      const dto = toWebhookEndpointDto(row);
      return {
        result: dto,
        audit: { action: 'webhook-endpoint.create', targetType: 'webhook-endpoint', targetId: dto.id, subjectPath: row.owner_path, after: { ...dto, secret: '***' } },
      };
    });
    return { ...endpoint, secret };
  }

  async get(caller: Caller, id: string): Promise<WebhookEndpointDto> {
    return toWebhookEndpointDto(await this.require(caller, id));
  }

  async list(caller: Caller, query: WebhookEndpointListQueryDto, limit: number): Promise<Page<WebhookEndpointDto>> {
    const owner = query.customerId ? await requireAccess(this.owners, caller, query.customerId, { what: 'customer' }) : undefined;
    const page = await this.endpoints.list(caller, { ownerId: owner?.id }, query.cursor, limit);
    return { items: page.items.map(toWebhookEndpointDto), nextCursor: page.nextCursor };
  }

  async update(caller: Caller, id: string, input: UpdateWebhookEndpointDto, expectedVersion?: number): Promise<WebhookEndpointDto> {
    await this.require(caller, id, { permission: 'webhooks.manage', version: expectedVersion });
    const url = input.url === undefined ? undefined : await this.checkUrl(input.url);
    return this.writes.change(caller.customerId, async (tx) => {
      const row = await this.require(caller, id, { tx, lock: 'FOR UPDATE', permission: 'webhooks.manage', version: expectedVersion });
      const updated = (await this.endpoints.update(caller, tx, row.id, {
        url,
        eventTypes: input.events,
        description: input.description,
        status: input.status,
        disabledReason: input.status === 'disabled' ? 'Disabled by a user.' : null,
      }))!; // locked and visible above
      const before = toWebhookEndpointDto(row);
      const after = toWebhookEndpointDto(updated);
      return {
        result: after,
        audit: { action: 'webhook-endpoint.update', targetType: 'webhook-endpoint', targetId: row.id, subjectPath: row.owner_path, before: { ...before }, after: { ...after } },
      };
    });
  }

  async remove(caller: Caller, id: string, expectedVersion?: number): Promise<void> {
    await this.writes.change(caller.customerId, async (tx) => {
      const row = await this.require(caller, id, { tx, lock: 'FOR UPDATE', permission: 'webhooks.manage', version: expectedVersion });
      await this.endpoints.delete(caller, tx, row.id);
      return {
        result: undefined,
        audit: { action: 'webhook-endpoint.delete', targetType: 'webhook-endpoint', targetId: row.id, subjectPath: row.owner_path, before: { ...toWebhookEndpointDto(row) }, after: null },
      };
    });
  }

  async listDeliveries(caller: Caller, id: string, cursor: string | undefined, limit: number): Promise<Page<WebhookDeliveryDto>> {
    const endpoint = await this.require(caller, id);
    const page = await this.deliveries.list(endpoint.id, cursor, limit);
    return { items: page.items.map(toWebhookDeliveryDto), nextCursor: page.nextCursor };
  }

  /** Sends a `webhook.test` event to this endpoint only (not in the feed); answers the delivery. */
  async sendTest(caller: Caller, id: string): Promise<WebhookDeliveryDto> {
    const endpoint = await this.require(caller, id, { permission: 'webhooks.manage' });
    if (endpoint.status !== 'enabled') {
      throw new ConflictProblem('webhook-endpoint-disabled', 'Endpoint disabled', 'The endpoint is disabled; enable it (PATCH {"status": "enabled"}) first.');
    }
    const eventId = randomUUID();
    const delivery = await this.writes.unauditedTransaction(async (tx) => {
      const deliveryId = await this.deliveries.insertTest(tx, endpoint.id, {
        id: eventId,
        type: TEST_EVENT_TYPE,
        payload: {
          id: eventId,
          sequence: null,
          type: TEST_EVENT_TYPE,
          occurredAt: new Date().toISOString(),
          subject: { type: 'webhook-endpoint', id: endpoint.id },
          // As the owner sees it: the caller when it is the owner, null when it is above.
          actor: caller.customerId === endpoint.owner_id ? caller.customerId : null,
          data: { message: 'A test event sent with POST /v1/webhook-endpoints/{id}/test.' },
        },
      });
      await this.runtime.queue.enqueue(this.deliveries.jobDb(tx), [{ deliveryId, attempt: 1 }]);
      return (await this.deliveries.get(tx, deliveryId))!;
    });
    this.runtime.wakeWorker();
    return toWebhookDeliveryDto(delivery);
  }
}
