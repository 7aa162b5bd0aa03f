import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsDate, IsIn, IsOptional, IsString, IsUUID, MaxLength } from 'class-validator';
import { PageQueryDto } from '../../common/pagination';

export const AUDIT_TARGET_TYPES = ['customer', 'tariff', 'rate', 'exchange-rate', 'api-key', 'balance-operation', 'session', 'account', 'permissions', 'system-settings', 'routing-group', 'call', 'webhook-endpoint'];

export class AuditQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ enum: AUDIT_TARGET_TYPES })
  @IsOptional()
  @IsIn(AUDIT_TARGET_TYPES)
  targetType?: string;

  @ApiPropertyOptional({ maxLength: 64 })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  targetId?: string;

  @ApiPropertyOptional({ format: 'uuid', description: 'Only events about this visible customer (and what it owns).' })
  @IsOptional()
  @IsUUID('all', { message: 'customerId must be a UUID' })
  customerId?: string;

  @ApiPropertyOptional({ type: String, format: 'date-time' })
  @IsOptional()
  @Type(() => Date)
  @IsDate({ message: 'from must be an ISO 8601 date-time' })
  from?: Date;

  @ApiPropertyOptional({ type: String, format: 'date-time' })
  @IsOptional()
  @Type(() => Date)
  @IsDate({ message: 'to must be an ISO 8601 date-time' })
  to?: Date;
}

export class AuditEventDto {
  @ApiProperty({ format: 'uuid' })
  id!: string;
  @ApiProperty({ type: String, format: 'date-time' })
  at!: string;
  @ApiProperty({ type: String, format: 'uuid', nullable: true, description: 'The customer, or the account (self-care: its login and its own changes), that acted; null when the actor is above the viewer (or the system).' })
  actor!: string | null;
  @ApiProperty({ example: 'customer.update' })
  action!: string;
  @ApiProperty({ enum: AUDIT_TARGET_TYPES })
  targetType!: string;
  @ApiProperty({ type: String, nullable: true })
  targetId!: string | null;
  @ApiProperty({ type: Object, nullable: true, description: '{before, after}; secrets are masked as "***".' })
  changes!: Record<string, unknown> | null;
  @ApiProperty({ type: String, nullable: true, description: 'null when the actor is above the viewer.' })
  requestId!: string | null;
  @ApiProperty({ type: String, nullable: true, description: 'null when the actor is above the viewer.' })
  clientAddress!: string | null;
}

export class AuditEventPageDto {
  @ApiProperty({ type: [AuditEventDto] })
  items!: AuditEventDto[];
  @ApiProperty({ type: String, nullable: true })
  nextCursor!: string | null;
}
