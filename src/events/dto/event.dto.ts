import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsIn, IsOptional, IsString, Matches } from 'class-validator';
import { PageQueryDto } from '../../common/pagination';
import { EVENT_TYPES } from '../event-types';

export class EventsQueryDto extends PageQueryDto {
  @ApiPropertyOptional({
    type: String,
    pattern: '^[0-9]{1,18}$',
    description: 'A sequence number: only events after it (sequence > after). Poll with the last sequence seen.',
    example: '0',
  })
  @IsOptional()
  @IsString()
  @Matches(/^[0-9]{1,18}$/, { message: 'after must be a sequence number (an integer ≥ 0)' })
  after?: string;

  @ApiPropertyOptional({
    type: String,
    description: `Comma-separated event types; only those. Known types: ${EVENT_TYPES.join(', ')}.`,
    example: 'balance.changed,balance.low',
  })
  @IsOptional()
  @Transform(({ value }) => (typeof value === 'string' ? value.split(',').map((t) => t.trim()) : Array.isArray(value) ? value.flatMap((v) => String(v).split(',')).map((t) => t.trim()) : value))
  @IsArray({ message: 'types must be a comma-separated list of event types' })
  @ArrayMinSize(1, { message: 'types must name at least one event type' })
  @ArrayMaxSize(EVENT_TYPES.length, { message: `types may name at most ${EVENT_TYPES.length} event types` })
  @IsIn(EVENT_TYPES, { each: true, message: `types must be a comma-separated list of: ${EVENT_TYPES.join(', ')}` })
  types?: string[];
}

export class EventSubjectDto {
  @ApiProperty({ example: 'customer', description: 'What the event is about: customer, account, tariff, rate, exchange-rate, api-key, permissions, routing-group, system-settings, session, call.' })
  type!: string;
  @ApiProperty({ type: String, nullable: true, example: '6f0c…' })
  id!: string | null;
}

export class EventDto {
  @ApiProperty({ format: 'uuid', description: 'Unique per event (the webhook-id of its deliveries).' })
  id!: string;
  @ApiProperty({ type: 'integer', minimum: 1, description: 'Position in the feed: gap-free, ascending in commit-safe order.' })
  sequence!: number;
  @ApiProperty({ enum: EVENT_TYPES })
  type!: string;
  @ApiProperty({ type: String, format: 'date-time' })
  occurredAt!: string;
  @ApiProperty({ type: EventSubjectDto })
  subject!: EventSubjectDto;
  @ApiProperty({ type: String, format: 'uuid', nullable: true, description: 'Who made the change; null when above the viewer (or the system).' })
  actor!: string | null;
  @ApiProperty({ type: Object, description: 'The payload of the type (docs/events.md).' })
  data!: Record<string, unknown>;
}

export class EventPageDto {
  @ApiProperty({ type: [EventDto] })
  items!: EventDto[];
  @ApiProperty({ type: String, nullable: true })
  nextCursor!: string | null;
}
