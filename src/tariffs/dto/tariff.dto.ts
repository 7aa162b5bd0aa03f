import { ApiHideProperty, ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsInt, IsOptional, IsString, IsUUID, Max, MaxLength, Min } from 'class-validator';
import { PageQueryDto } from '../../common/pagination';
import { IsCurrencyCode, IsMoney, IsName, MoneyProperty, OptionalMoneyProperty, Reject } from '../../common/validation';

export class CreateTariffDto {
  @ApiPropertyOptional({ format: 'uuid', description: 'Owner: a visible customer; default the caller.' })
  @IsOptional()
  @IsUUID('all', { message: 'ownerId must be a UUID' })
  ownerId?: string;

  @ApiProperty({ minLength: 1, maxLength: 128, description: 'Unique per owner.' })
  @IsName()
  name!: string;

  @ApiProperty({ example: 'USD', description: 'ISO 4217; fixed at creation.' })
  @IsCurrencyCode()
  currency!: string;

  @ApiPropertyOptional({ maxLength: 1024 })
  @IsOptional()
  @IsString()
  @MaxLength(1024)
  description?: string;

  @OptionalMoneyProperty({ description: 'Fee charged per connected call, ≥ 0.' })
  @IsMoney()
  connectFee?: string;

  @ApiPropertyOptional({ minimum: 0, maximum: 86400, default: 0 })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(86400)
  freeSeconds?: number;
}

export class UpdateTariffDto {
  @ApiPropertyOptional({ minLength: 1, maxLength: 128 })
  @IsOptional()
  @IsName()
  name?: string;

  @ApiPropertyOptional({ maxLength: 1024 })
  @IsOptional()
  @IsString()
  @MaxLength(1024)
  description?: string;

  @OptionalMoneyProperty()
  @IsMoney()
  connectFee?: string;

  @ApiPropertyOptional({ minimum: 0, maximum: 86400 })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(86400)
  freeSeconds?: number;

  @ApiHideProperty()
  @Reject('currency is fixed at creation; create another tariff for another currency')
  currency?: never;

  @ApiHideProperty()
  @Reject('ownerId is fixed at creation')
  ownerId?: never;
}

export class TariffListQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ format: 'uuid', description: 'Only tariffs of this visible owner.' })
  @IsOptional()
  @IsUUID('all', { message: 'ownerId must be a UUID' })
  ownerId?: string;
}

export class TariffDto {
  @ApiProperty({ format: 'uuid' })
  id!: string;
  @ApiProperty({ format: 'uuid' })
  ownerId!: string;
  @ApiProperty()
  name!: string;
  @ApiProperty({ example: 'USD' })
  currency!: string;
  @ApiProperty()
  description!: string;
  @MoneyProperty()
  connectFee!: string;
  @ApiProperty()
  freeSeconds!: number;
  @ApiProperty({ type: String, format: 'date-time' })
  createdAt!: string;
  @ApiProperty({ type: String, format: 'date-time' })
  updatedAt!: string;
  @ApiProperty()
  version!: number;
}

export class TariffPageDto {
  @ApiProperty({ type: [TariffDto] })
  items!: TariffDto[];
  @ApiProperty({ type: String, nullable: true })
  nextCursor!: string | null;
}
