import { ApiHideProperty, ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayMaxSize, ArrayMinSize, ArrayUnique, IsArray, IsIn, IsOptional, IsString, IsUUID, MaxLength } from 'class-validator';
import { PageQueryDto } from '../../common/pagination';
import { Reject } from '../../common/validation';
import { WEBHOOK_EVENT_TYPES } from '../event-types';

const URL_DESCRIPTION =
  '`https://` (or `http://`) URL, at most 2,048 characters. Hosts that are or resolve to private, loopback, link-local or ' +
  'unique-local addresses are refused (400 naming `/url`) unless the server runs with `WEBHOOK_ALLOW_PRIVATE_TARGETS=true`; ' +
  'the host is resolved again for every delivery.';

const EVENTS_DESCRIPTION = 'The event types sent to this endpoint (at least one; see `GET /v1/events` for their payloads).';

export class CreateWebhookEndpointDto {
  @ApiProperty({ maxLength: 2048, example: 'https://billing.example.com/canopy-hooks', description: URL_DESCRIPTION })
  @IsString()
  @MaxLength(2048)
  url!: string;

  @ApiProperty({ enum: WEBHOOK_EVENT_TYPES, isArray: true, minItems: 1, description: EVENTS_DESCRIPTION })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(WEBHOOK_EVENT_TYPES.length)
  @ArrayUnique()
  @IsIn(WEBHOOK_EVENT_TYPES, { each: true, message: 'each value in events must be a known event type' })
  events!: string[];

  @ApiPropertyOptional({ maxLength: 1024 })
  @IsOptional()
  @IsString()
  @MaxLength(1024)
  description?: string;

  @ApiPropertyOptional({ format: 'uuid', description: 'Owner: the caller (default) or a visible descendant; the endpoint receives the events of the owner’s subtree.' })
  @IsOptional()
  @IsUUID('all', { message: 'customerId must be a UUID' })
  customerId?: string;
}

export class UpdateWebhookEndpointDto {
  @ApiPropertyOptional({ maxLength: 2048, description: URL_DESCRIPTION })
  @IsOptional()
  @IsString()
  @MaxLength(2048)
  url?: string;

  @ApiPropertyOptional({ enum: WEBHOOK_EVENT_TYPES, isArray: true, minItems: 1, description: EVENTS_DESCRIPTION })
  @IsOptional()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(WEBHOOK_EVENT_TYPES.length)
  @ArrayUnique()
  @IsIn(WEBHOOK_EVENT_TYPES, { each: true, message: 'each value in events must be a known event type' })
  events?: string[];

  @ApiPropertyOptional({ maxLength: 1024 })
  @IsOptional()
  @IsString()
  @MaxLength(1024)
  description?: string;

  @ApiPropertyOptional({
    enum: ['enabled', 'disabled'],
    description: '`enabled` re-enables an endpoint disabled after failing (its failure record starts afresh); `disabled` stops deliveries.',
  })
  @IsOptional()
  @IsIn(['enabled', 'disabled'])
  status?: 'enabled' | 'disabled';

  @ApiHideProperty()
  @Reject('customerId is fixed at creation')
  customerId?: never;

  @ApiHideProperty()
  @Reject('the secret is made by the server and shown once, at creation')
  secret?: never;
}

export class WebhookEndpointListQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ format: 'uuid', description: 'Only endpoints of this visible customer.' })
  @IsOptional()
  @IsUUID('all', { message: 'customerId must be a UUID' })
  customerId?: string;
}

export class WebhookEndpointDto {
  @ApiProperty({ format: 'uuid' })
  id!: string;
  @ApiProperty({ format: 'uuid', description: 'The owner: the endpoint receives the events of its subtree.' })
  customerId!: string;
  @ApiProperty()
  url!: string;
  @ApiProperty({ type: [String] })
  events!: string[];
  @ApiProperty()
  description!: string;
  @ApiProperty({ enum: ['enabled', 'disabled'] })
  status!: 'enabled' | 'disabled';
  @ApiProperty({ type: String, nullable: true, description: 'Why the endpoint is disabled (null when enabled).' })
  disabledReason!: string | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true, description: 'Deliveries have failed without a success since then (null: the last attempt succeeded).' })
  failingSince!: string | null;
  @ApiProperty({ type: String, format: 'date-time' })
  createdAt!: string;
  @ApiProperty({ type: String, format: 'date-time' })
  updatedAt!: string;
  @ApiProperty({ description: 'Version for If-Match (also the ETag).' })
  version!: number;
}

export class CreatedWebhookEndpointDto extends WebhookEndpointDto {
  @ApiPropertyOptional({
    example: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
    description: 'The signing secret (Standard Webhooks, `whsec_` + base64), shown in this response only; absent when the request is replayed under the same Idempotency-Key.',
  })
  secret?: string;
}

export class WebhookEndpointPageDto {
  @ApiProperty({ type: [WebhookEndpointDto] })
  items!: WebhookEndpointDto[];
  @ApiProperty({ type: String, nullable: true })
  nextCursor!: string | null;
}

export class WebhookAttemptDto {
  @ApiProperty({ description: '1 for the first attempt.' })
  n!: number;
  @ApiProperty({ type: String, format: 'date-time' })
  attemptedAt!: string;
  @ApiProperty({ type: Number, nullable: true, description: 'The HTTP status answered (null: no answer, see `error`).' })
  statusCode!: number | null;
  @ApiProperty({ type: String, nullable: true, description: 'Why no answer came (a timeout, a refused connection, a refused address).' })
  error!: string | null;
  @ApiProperty()
  durationMs!: number;
}

export class WebhookDeliveryEventDto {
  @ApiProperty({ format: 'uuid', description: 'Also the `webhook-id` header of every attempt.' })
  id!: string;
  @ApiProperty()
  type!: string;
  @ApiProperty({ type: Number, nullable: true, description: 'Its sequence in the feed (null for `webhook.test`).' })
  sequence!: number | null;
}

export class WebhookDeliveryDto {
  @ApiProperty({ format: 'uuid' })
  id!: string;
  @ApiProperty({ format: 'uuid' })
  endpointId!: string;
  @ApiProperty({ type: WebhookDeliveryEventDto })
  event!: WebhookDeliveryEventDto;
  @ApiProperty({ enum: ['pending', 'delivered', 'failed'] })
  status!: 'pending' | 'delivered' | 'failed';
  @ApiProperty()
  attemptCount!: number;
  @ApiProperty({ type: [WebhookAttemptDto], description: 'The latest attempts (at most 25), oldest first.' })
  attempts!: WebhookAttemptDto[];
  @ApiProperty({ type: String, format: 'date-time', nullable: true, description: 'When the next attempt is due (null once delivered or given up).' })
  nextAttemptAt!: string | null;
  @ApiProperty({ type: String, format: 'date-time' })
  createdAt!: string;
}

export class WebhookDeliveryPageDto {
  @ApiProperty({ type: [WebhookDeliveryDto] })
  items!: WebhookDeliveryDto[];
  @ApiProperty({ type: String, nullable: true })
  nextCursor!: string | null;
}
