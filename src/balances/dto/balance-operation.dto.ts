import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsBoolean, IsDate, IsIn, IsOptional, IsString, MaxLength } from 'class-validator';
import { PageQueryDto } from '../../common/pagination';
import { IsCurrencyCode, IsMoney, MoneyProperty } from '../../common/validation';

export const OPERATION_ACTIONS = ['add_funds', 'credit', 'debit'] as const;
export type OperationAction = (typeof OPERATION_ACTIONS)[number];
/** Every action a ledger entry can have: the operations, the opening balance, and `usage` (a rated call, SPEC §13). */
export const ENTRY_ACTIONS = ['opening_balance', ...OPERATION_ACTIONS, 'usage'] as const;

export class BalanceOperationDto {
  @ApiProperty({ enum: OPERATION_ACTIONS, description: 'add_funds: a payment received; credit: a credit or refund; debit: a charge.' })
  @IsIn(OPERATION_ACTIONS)
  action!: OperationAction;

  @MoneyProperty({ description: 'Positive decimal string, at most 8 fraction digits.', example: '25.00' })
  @IsMoney({ positive: true })
  amount!: string;

  @ApiPropertyOptional({ example: 'EUR', description: 'Default the target’s base currency; converted with the table of the party that bills the target.' })
  @IsOptional()
  @IsCurrencyCode()
  currency?: string;

  @ApiPropertyOptional({ maxLength: 1024 })
  @IsOptional()
  @IsString()
  @MaxLength(1024)
  notes?: string;

  @ApiPropertyOptional({ default: false, description: 'Debits only: allow available credit to go below zero.' })
  @IsOptional()
  @IsBoolean()
  allowOverdraft?: boolean;
}

export class LedgerQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ enum: ENTRY_ACTIONS })
  @IsOptional()
  @IsIn(ENTRY_ACTIONS)
  action?: string;

  @ApiPropertyOptional({ type: String, format: 'date-time', description: 'Entries at or after this time.' })
  @IsOptional()
  @Type(() => Date)
  @IsDate({ message: 'from must be an ISO 8601 date-time' })
  from?: Date;

  @ApiPropertyOptional({ type: String, format: 'date-time', description: 'Entries before this time.' })
  @IsOptional()
  @Type(() => Date)
  @IsDate({ message: 'to must be an ISO 8601 date-time' })
  to?: Date;
}

export class LedgerEntryDto {
  @ApiProperty({ format: 'uuid' })
  id!: string;
  @ApiProperty({ enum: ENTRY_ACTIONS })
  action!: string;
  @MoneyProperty({ description: 'As posted, in `currency`.' })
  amount!: string;
  @ApiProperty({ example: 'EUR' })
  currency!: string;
  @ApiProperty({ example: '1.0825', description: 'Rate applied to turn `currency` into the target’s base currency.' })
  exchangeRate!: string;
  @MoneyProperty({ description: 'Signed change of the balance, in the target’s base currency.', example: '-25.00' })
  convertedAmount!: string;
  @MoneyProperty()
  balanceAfter!: string;
  @ApiProperty({ type: String, nullable: true })
  notes!: string | null;
  @ApiProperty({ type: String, format: 'uuid', nullable: true, description: 'Who posted it; null when above the viewer.' })
  actor!: string | null;
  @ApiProperty({ type: String, nullable: true, description: 'The Idempotency-Key it was posted with; null when the actor is above the viewer.' })
  idempotencyKey!: string | null;
  @ApiProperty({ type: String, format: 'date-time' })
  createdAt!: string;
}

export class LedgerPageDto {
  @ApiProperty({ type: [LedgerEntryDto] })
  items!: LedgerEntryDto[];
  @ApiProperty({ type: String, nullable: true })
  nextCursor!: string | null;
}
