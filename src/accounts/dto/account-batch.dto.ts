import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsInt, IsOptional, IsString, IsUUID, Matches, Max, Min } from 'class-validator';
import { NON_NEGATIVE_DECIMAL_PATTERN } from '../../common/money';
import { IsLanguage, IsMoney, IsTimeZone, OptionalMoneyProperty } from '../../common/validation';
import { ACCOUNT_STATUSES, AccountStatus, MAX_SESSIONS_LIMIT } from './account.dto';

/** Most accounts one batch creates. */
export const MAX_BATCH_COUNT = 10000;
/** PIN lengths allowed (digits); the default. */
export const PIN_LENGTH = { min: 4, max: 12, default: 8 } as const;
/** The sequence number is zero-padded to at least this many digits: `card-000001`. */
export const SEQUENCE_DIGITS = 6;
/** Highest first sequence number one may ask for (keeps usernames well within 64 characters). */
export const MAX_FIRST_NUMBER = 999_999_999_999;

/**
 * A username prefix: 1–32 of the username characters (letters, digits, `. _ @ + -`), not
 * ending with a digit, so that the sequence after it is unambiguous (`card-` + `000001`).
 */
export const USERNAME_PREFIX_PATTERN = /^[A-Za-z0-9._@+-]{0,31}[A-Za-z._@+-]$/;

export class CreateAccountBatchDto {
  @ApiProperty({ minimum: 1, maximum: MAX_BATCH_COUNT, example: 1000, description: 'How many accounts (cards) to create, all or none.' })
  @IsInt({ message: 'count must be an integer' })
  @Min(1, { message: `count must be between 1 and ${MAX_BATCH_COUNT}` })
  @Max(MAX_BATCH_COUNT, { message: `count must be between 1 and ${MAX_BATCH_COUNT}` })
  count!: number;

  @ApiProperty({
    example: 'card-',
    minLength: 1,
    maxLength: 32,
    pattern: USERNAME_PREFIX_PATTERN.source,
    description:
      'Each username is this prefix followed by a sequence number zero-padded to at least 6 digits (`card-000001`). ' +
      '1–32 letters, digits or `. _ @ + -`, not ending with a digit.',
  })
  @IsString()
  @Matches(USERNAME_PREFIX_PATTERN, { message: 'usernamePrefix must be 1–32 letters, digits or . _ @ + - and must not end with a digit' })
  usernamePrefix!: string;

  @ApiPropertyOptional({
    minimum: 1,
    maximum: MAX_FIRST_NUMBER,
    description:
      'The first sequence number. Default: one after the highest number already used by a live account with this prefix ' +
      '(1 when there is none). Given explicitly, a username already in use is a `409 username-taken` naming it, and nothing is written.',
  })
  @IsOptional()
  @IsInt({ message: 'firstNumber must be an integer' })
  @Min(1)
  @Max(MAX_FIRST_NUMBER)
  firstNumber?: number;

  @ApiPropertyOptional({ minimum: PIN_LENGTH.min, maximum: PIN_LENGTH.max, default: PIN_LENGTH.default, description: 'Digits of each random PIN.' })
  @IsOptional()
  @IsInt({ message: 'pinLength must be an integer' })
  @Min(PIN_LENGTH.min)
  @Max(PIN_LENGTH.max)
  pinLength?: number;

  @ApiProperty({ format: 'uuid', description: 'A tariff owned by the customer, for every account of the batch.' })
  @IsUUID('all', { message: 'tariffId must be a UUID' })
  tariffId!: string;

  @OptionalMoneyProperty({
    description:
      'Opening balance of each account, in the customer’s base currency (may be negative down to -creditLimit); each non-zero one ' +
      'is the account’s first ledger entry, so it needs `balances.operate` (403 naming it). Default 0.',
    pattern: undefined,
  })
  @IsMoney({ allowNegative: true })
  balance?: string;

  @OptionalMoneyProperty({ description: 'Credit limit of each account, ≥ 0. Default 0.' })
  @IsMoney()
  creditLimit?: string;

  @ApiPropertyOptional({
    type: String,
    nullable: true,
    pattern: NON_NEGATIVE_DECIMAL_PATTERN.source,
    example: '1.00',
    description: '`balance.low` threshold of each account (see POST /v1/accounts). Default null (none).',
  })
  @IsOptional()
  @IsMoney()
  lowBalanceThreshold?: string | null;

  @ApiPropertyOptional({ example: 'Europe/Paris', description: 'IANA name; default the customer’s.' })
  @IsOptional()
  @IsTimeZone()
  timeZone?: string;

  @ApiPropertyOptional({ example: 'en', description: 'A code from /v1/languages; default the customer’s.' })
  @IsOptional()
  @IsLanguage()
  language?: string;

  @ApiPropertyOptional({ minimum: 0, maximum: MAX_SESSIONS_LIMIT, default: 1, description: 'Concurrent calls allowed per account.' })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(MAX_SESSIONS_LIMIT)
  maxSessions?: number;

  @ApiPropertyOptional({ enum: ACCOUNT_STATUSES, default: 'active', description: '`blocked` issues the cards unusable until activated one by one (PATCH).' })
  @IsOptional()
  @IsIn(ACCOUNT_STATUSES)
  status?: AccountStatus;

  @ApiPropertyOptional({ format: 'uuid', description: 'A routing group (see /v1/routing-groups).' })
  @IsOptional()
  @IsUUID('all', { message: 'routingGroupId must be a UUID' })
  routingGroupId?: string;
}

export class CardDto {
  @ApiProperty({ format: 'uuid' })
  id!: string;
  @ApiProperty({ example: 'card-000001' })
  username!: string;
  @ApiProperty({
    type: String,
    nullable: true,
    example: '04718265',
    description:
      'The account’s PIN, its VoIP and web password: digits (keep leading zeros). In this first answer only; ' +
      '`null` in an idempotent replay, which never holds PINs.',
  })
  pin!: string | null;
}

export class AccountBatchDto {
  @ApiProperty({ description: 'How many accounts were created.', example: 1000 })
  count!: number;
  @ApiProperty({ type: [CardDto], description: 'The new accounts in sequence order.' })
  items!: CardDto[];
}
