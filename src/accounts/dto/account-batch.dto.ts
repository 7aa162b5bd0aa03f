import { ApiProperty, ApiPropertyOptional, IntersectionType, PickType } from '@nestjs/swagger';
import { IsInt, IsOptional, IsString, Matches, Max, Min } from 'class-validator';
import { AccountStatus, CreateAccountDto } from './account.dto';

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

/** How a batch numbers its accounts and makes their PINs. */
class AccountBatchNumberingDto {
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

}

/** What every account of a batch is given as in POST /v1/accounts (the same fields, checks and documentation). */
export const BATCH_ACCOUNT_FIELDS = [
  'tariffId',
  'balance',
  'creditLimit',
  'lowBalanceThreshold',
  'timeZone',
  'language',
  'maxSessions',
  'status',
  'routingGroupId',
] as const;

export class CreateAccountBatchDto extends IntersectionType(AccountBatchNumberingDto, PickType(CreateAccountDto, BATCH_ACCOUNT_FIELDS)) {
  @ApiPropertyOptional({ description: '`blocked` issues the cards unusable until activated one by one (PATCH).' })
  override status?: AccountStatus;
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
