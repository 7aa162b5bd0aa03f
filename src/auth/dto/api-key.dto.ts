import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayMaxSize, IsArray, IsIn, IsISO8601, IsOptional } from 'class-validator';
import { IsName } from '../../common/validation';
import { ALL_PERMISSIONS } from '../../permissions/permission.catalogue';

export class CreateApiKeyDto {
  @ApiProperty({ maxLength: 128, example: 'billing-sync' })
  @IsName()
  name!: string;

  @ApiPropertyOptional({
    enum: ALL_PERMISSIONS,
    isArray: true,
    description:
      'Rights of the key, at most the creator’s. Omitted: all of the creator’s rights, now and later (when the creator is itself an API-key session: that key’s rights).',
  })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(ALL_PERMISSIONS.length)
  @IsIn(ALL_PERMISSIONS, { each: true, message: 'each value in permissions must be a permission from /v1/permissions' })
  permissions?: string[];

  @ApiPropertyOptional({ type: String, format: 'date-time' })
  @IsOptional()
  @IsISO8601({ strict: true, strictSeparator: true }, { message: 'expiresAt must be an ISO 8601 date-time' })
  expiresAt?: string;
}

export class ApiKeyDto {
  @ApiProperty({ format: 'uuid' })
  id!: string;
  @ApiProperty()
  name!: string;
  @ApiProperty({ description: 'The public start of the key, to recognise it.', example: 'cnp_a1B2c3D4e5F6' })
  prefix!: string;
  @ApiProperty({ type: [String], nullable: true, description: 'null: all of the creator’s rights.' })
  permissions!: string[] | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  expiresAt!: string | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  lastUsedAt!: string | null;
  @ApiProperty({ type: String, format: 'date-time' })
  createdAt!: string;
}

export class CreatedApiKeyDto extends ApiKeyDto {
  @ApiPropertyOptional({
    description: 'The secret, shown this once only: absent when the request is replayed under the same Idempotency-Key.',
  })
  apiKey?: string;
}

export class ApiKeyPageDto {
  @ApiProperty({ type: [ApiKeyDto] })
  items!: ApiKeyDto[];
  @ApiProperty({ type: String, nullable: true })
  nextCursor!: string | null;
}
