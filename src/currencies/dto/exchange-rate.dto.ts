import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsUUID, Matches } from 'class-validator';
import { RATE_PATTERN } from '../../common/money';
import { PageQueryDto } from '../../common/pagination';

export class TableOwnerQueryDto {
  @ApiPropertyOptional({ format: 'uuid', description: 'Whose table: a visible customer; default the caller.' })
  @IsOptional()
  @IsUUID('all', { message: 'customerId must be a UUID' })
  customerId?: string;
}

export class ExchangeRateListQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ format: 'uuid', description: 'Whose table: a visible customer; default the caller.' })
  @IsOptional()
  @IsUUID('all', { message: 'customerId must be a UUID' })
  customerId?: string;
}

export class ExchangeRateHistoryQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ format: 'uuid', description: 'Whose table: a visible customer; default the caller.' })
  @IsOptional()
  @IsUUID('all', { message: 'customerId must be a UUID' })
  customerId?: string;
}

export class SetExchangeRateDto {
  @ApiProperty({
    type: String,
    example: '1.0825',
    pattern: RATE_PATTERN.source,
    description:
      'Value of 1 unit of the currency in the table owner’s base currency, as a string: from 0.000000000001 to 999999999999.999999999999 (at most 12 integer and 12 fraction digits).',
  })
  @Matches(RATE_PATTERN, {
    message: 'rate must be a positive decimal string with at most 12 integer and 12 fraction digits (e.g. "1.0825"), not a number',
  })
  @Matches(/[1-9]/, { message: 'rate must be greater than 0' })
  rate!: string;
}

export class ExchangeRateDto {
  @ApiProperty({ example: 'EUR' })
  currency!: string;
  @ApiProperty({ example: 'USD', description: 'The table owner’s base currency, in which `rate` is expressed.' })
  baseCurrency!: string;
  @ApiProperty({ example: '1.0825' })
  rate!: string;
  @ApiProperty({ type: String, format: 'date-time' })
  updatedAt!: string;
  @ApiProperty()
  version!: number;
}

export class ExchangeRateListDto {
  @ApiProperty({ type: [ExchangeRateDto] })
  items!: ExchangeRateDto[];
  @ApiProperty({ type: String, nullable: true })
  nextCursor!: string | null;
}

export class ExchangeRateChangeDto {
  @ApiProperty({ example: 'EUR' })
  currency!: string;
  @ApiProperty({ type: String, nullable: true, example: '1.0825', description: 'null: the rate was deleted.' })
  rate!: string | null;
  @ApiProperty({ type: String, format: 'date-time' })
  at!: string;
}

export class ExchangeRateHistoryDto {
  @ApiProperty({ type: [ExchangeRateChangeDto] })
  items!: ExchangeRateChangeDto[];
  @ApiProperty({ type: String, nullable: true })
  nextCursor!: string | null;
}
