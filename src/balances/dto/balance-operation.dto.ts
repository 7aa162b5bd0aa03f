import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsBoolean, IsDate, IsIn, IsOptional, IsString, MaxLength, registerDecorator } from 'class-validator';
import { Metadata, MetadataProperty } from '../../common/metadata';
import { PageQueryDto } from '../../common/pagination';
import { IsCurrencyCode, IsMoney, MoneyProperty } from '../../common/validation';

export const OPERATION_ACTIONS = ['add_funds', 'credit', 'debit'] as const;
export type OperationAction = (typeof OPERATION_ACTIONS)[number];
/** Every action a ledger entry can have: the operations, the opening balance, and `usage` (a rated call, SPEC §13). */
export const ENTRY_ACTIONS = ['opening_balance', ...OPERATION_ACTIONS, 'usage'] as const;

/** An external reference: 1–128 characters, none of them a control character (SPEC §6). */
export const EXTERNAL_REFERENCE_MAX_LENGTH = 128;
export const EXTERNAL_REFERENCE_PATTERN = /^\P{Cc}*$/u;
const EXTERNAL_REFERENCE_MESSAGE = `externalReference must be a string of 1–${EXTERNAL_REFERENCE_MAX_LENGTH} characters, none of them a control character`;

/** Whether `value` is an external reference (length in characters, as the database counts them). */
export function isExternalReference(value: unknown): value is string {
  if (typeof value !== 'string' || !EXTERNAL_REFERENCE_PATTERN.test(value)) return false;
  const length = [...value].length;
  return length >= 1 && length <= EXTERNAL_REFERENCE_MAX_LENGTH;
}

/** class-validator: one check, one message. */
function IsExternalReference(): PropertyDecorator {
  return (object: object, propertyName: string | symbol) =>
    registerDecorator({
      name: 'isExternalReference',
      target: object.constructor,
      propertyName: String(propertyName),
      options: { message: EXTERNAL_REFERENCE_MESSAGE },
      validator: { validate: isExternalReference },
    });
}

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

  @ApiPropertyOptional({
    minLength: 1,
    maxLength: EXTERNAL_REFERENCE_MAX_LENGTH,
    example: 'bank-tx-2026-03-01-0042',
    description:
      'Your own permanent de-duplication key for this target (e.g. a bank’s payment id), compared exactly: a second operation on the same ' +
      'customer or account with the same reference is a `409 duplicate-reference` naming the existing entry (`existingEntryId`), however much later, ' +
      'whatever its Idempotency-Key. The same reference on another target is another operation.',
  })
  @IsOptional()
  @IsExternalReference()
  externalReference?: string;

  @MetadataProperty('Your own data, kept on the ledger entry: up to 50 keys (≤ 40 characters: letters, digits, _ - . :), string values ≤ 500 characters.')
  metadata?: Metadata;
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

  @ApiPropertyOptional({ maxLength: EXTERNAL_REFERENCE_MAX_LENGTH, description: 'The entry with exactly this external reference (at most one).' })
  @IsOptional()
  @IsString()
  @MaxLength(EXTERNAL_REFERENCE_MAX_LENGTH)
  externalReference?: string;
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
  @ApiProperty({ type: String, nullable: true, maxLength: EXTERNAL_REFERENCE_MAX_LENGTH, example: 'bank-tx-2026-03-01-0042', description: 'The operation’s external reference; null when none.' })
  externalReference!: string | null;
  @ApiProperty({
    type: 'object',
    additionalProperties: { type: 'string' },
    example: { invoice: 'INV-2026-0042' },
    description: 'The operation’s metadata; `{}` when none.',
  })
  metadata!: Metadata;
  @ApiProperty({ type: String, format: 'date-time' })
  createdAt!: string;
}

export class LedgerPageDto {
  @ApiProperty({ type: [LedgerEntryDto] })
  items!: LedgerEntryDto[];
  @ApiProperty({ type: String, nullable: true })
  nextCursor!: string | null;
}
