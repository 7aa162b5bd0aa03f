import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayMaxSize, IsArray, IsIn, IsInt, IsOptional, IsString, Max, MaxLength, Min, ValidateIf } from 'class-validator';
import { PageQueryDto } from '../../common/pagination';
import { IsCurrencyCode, IsLanguage, IsName, IsTimeZone } from '../../common/validation';
import { ALL_PERMISSIONS } from '../../permissions/permission.catalogue';

export class SystemSettingsDto {
  @ApiProperty({ type: String, nullable: true, example: 'Europe/Paris', description: 'Time zone of new customers; null: the parent’s.' })
  defaultTimeZone!: string | null;
  @ApiProperty({ type: String, nullable: true, example: 'en', description: 'Language of new customers; null: the parent’s.' })
  defaultLanguage!: string | null;
  @ApiProperty({ type: String, nullable: true, example: 'USD', description: 'Base currency of new customers; null: the parent’s (SPEC §3).' })
  defaultBaseCurrency!: string | null;
  @ApiProperty({ enum: ALL_PERMISSIONS, isArray: true, description: 'Grants of new customers.' })
  defaultPermissions!: string[];
  @ApiProperty({ example: 16, description: 'Levels in the tree, the root being level 1.' })
  maxDepth!: number;
  @ApiProperty()
  version!: number;
  @ApiProperty({ type: String, format: 'date-time' })
  updatedAt!: string;
}

export class UpdateSystemSettingsDto {
  @ApiPropertyOptional({ type: String, nullable: true })
  @IsOptional()
  @ValidateIf((_o, v) => v !== null)
  @IsTimeZone()
  defaultTimeZone?: string | null;

  @ApiPropertyOptional({ type: String, nullable: true })
  @IsOptional()
  @ValidateIf((_o, v) => v !== null)
  @IsLanguage()
  defaultLanguage?: string | null;

  @ApiPropertyOptional({ type: String, nullable: true })
  @IsOptional()
  @ValidateIf((_o, v) => v !== null)
  @IsCurrencyCode()
  defaultBaseCurrency?: string | null;

  @ApiPropertyOptional({ enum: ALL_PERMISSIONS, isArray: true, description: 'Only rights the caller holds itself (else 403 naming the first that it does not).' })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(ALL_PERMISSIONS.length)
  @IsIn(ALL_PERMISSIONS, { each: true, message: 'each value in defaultPermissions must be a permission from /v1/permissions' })
  defaultPermissions?: string[];

  @ApiPropertyOptional({ minimum: 2, maximum: 64 })
  @IsOptional()
  @IsInt()
  @Min(2)
  @Max(64)
  maxDepth?: number;
}

export const ROUTING_POLICIES = ['least-cost', 'priority', 'weighted'] as const;

export class CreateRoutingGroupDto {
  @ApiProperty({ minLength: 1, maxLength: 128, description: 'Unique.' })
  @IsName()
  name!: string;

  @ApiPropertyOptional({ maxLength: 1024 })
  @IsOptional()
  @IsString()
  @MaxLength(1024)
  description?: string;

  @ApiProperty({ enum: ROUTING_POLICIES })
  @IsIn(ROUTING_POLICIES)
  policy!: (typeof ROUTING_POLICIES)[number];
}

export class UpdateRoutingGroupDto {
  @ApiPropertyOptional({ minLength: 1, maxLength: 128 })
  @IsOptional()
  @IsName()
  name?: string;

  @ApiPropertyOptional({ maxLength: 1024 })
  @IsOptional()
  @IsString()
  @MaxLength(1024)
  description?: string;

  @ApiPropertyOptional({ enum: ROUTING_POLICIES })
  @IsOptional()
  @IsIn(ROUTING_POLICIES)
  policy?: (typeof ROUTING_POLICIES)[number];
}

export class RoutingGroupDto {
  @ApiProperty({ format: 'uuid' })
  id!: string;
  @ApiProperty()
  name!: string;
  @ApiProperty()
  description!: string;
  @ApiProperty({ enum: ROUTING_POLICIES })
  policy!: string;
  @ApiProperty({ type: String, format: 'date-time' })
  createdAt!: string;
  @ApiProperty({ type: String, format: 'date-time' })
  updatedAt!: string;
  @ApiProperty()
  version!: number;
}

export class RoutingGroupPageDto {
  @ApiProperty({ type: [RoutingGroupDto] })
  items!: RoutingGroupDto[];
  @ApiProperty({ type: String, nullable: true })
  nextCursor!: string | null;
}

export class RoutingGroupListQueryDto extends PageQueryDto {}
