import { ApiHideProperty, ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, IsUUID, Matches, Max, MaxLength, Min, MinLength, ValidateIf } from 'class-validator';
import { NON_NEGATIVE_DECIMAL_PATTERN } from '../../common/money';
import { Metadata, MetadataProperty } from '../../common/metadata';
import { IsLanguage, IsMoney, IsTimeZone, MoneyProperty, normalizeText, OptionalMoneyProperty, Reject } from '../../common/validation';
import { DisplayDto, ExternalIdProperty } from '../../customers/dto/customer.dto';
import { FilteredListQueryDto } from '../../customers/dto/list-query';

export const ACCOUNT_STATUSES = ['active', 'blocked'] as const;
export type AccountStatus = (typeof ACCOUNT_STATUSES)[number];

/** A SIP identity: letters, digits and `. _ @ + -`, 1–64 characters. */
export const USERNAME_PATTERN = /^[A-Za-z0-9._@+-]{1,64}$/;
const USERNAME_MESSAGE = 'username must be 1–64 letters, digits or . _ @ + -';
export const MAX_SESSIONS_LIMIT = 10000;

export const ACCOUNT_BALANCE_NOT_WRITABLE =
  'balance cannot be set here: use POST /v1/accounts/{id}/balance-operations (add_funds, credit, debit)';
const CUSTOMER_NOT_WRITABLE = 'customerId cannot be changed: an account stays with the customer that owns it';

export class CreateAccountDto {
  @ApiPropertyOptional({ format: 'uuid', description: 'Owner of the account: the caller or any live customer of its subtree; default the caller.' })
  @IsOptional()
  @IsUUID('all', { message: 'customerId must be a UUID' })
  customerId?: string;

  @ApiProperty({
    example: 'alice@sip.example',
    minLength: 1,
    maxLength: 64,
    pattern: USERNAME_PATTERN.source,
    description: 'SIP identity, unique among live accounts (case-sensitive, as SIP user parts are).',
  })
  @IsString()
  @Matches(USERNAME_PATTERN, { message: USERNAME_MESSAGE })
  username!: string;

  @ApiProperty({ minLength: 8, maxLength: 256, writeOnly: true, description: 'Stored as argon2id; never returned.' })
  @IsString()
  @MinLength(8)
  @MaxLength(256)
  webPassword!: string;

  @ApiProperty({ minLength: 8, maxLength: 128, writeOnly: true, description: 'SIP digest password; never returned.' })
  @IsString()
  @MinLength(8)
  @MaxLength(128)
  voipPassword!: string;

  @ApiProperty({ format: 'uuid', description: 'A tariff owned by the account’s customer.' })
  @IsUUID('all', { message: 'tariffId must be a UUID' })
  tariffId!: string;

  @ApiPropertyOptional({ example: 'Europe/Paris', description: 'IANA name; default the customer’s.' })
  @IsOptional()
  @IsTimeZone()
  timeZone?: string;

  @ApiPropertyOptional({ example: 'en', description: 'A code from /v1/languages; default the customer’s.' })
  @IsOptional()
  @IsLanguage()
  language?: string;

  @OptionalMoneyProperty({
    description: 'Opening balance in the customer’s base currency (may be negative down to -creditLimit); becomes the first ledger entry, so a non-zero one needs `balances.operate` (403 naming it).',
    pattern: undefined,
  })
  @IsMoney({ allowNegative: true })
  balance?: string;

  @OptionalMoneyProperty({ description: 'Credit limit, ≥ 0. Default 0.' })
  @IsMoney()
  creditLimit?: string;

  @ApiPropertyOptional({
    type: String,
    nullable: true,
    pattern: NON_NEGATIVE_DECIMAL_PATTERN.source,
    example: '10.00',
    description: 'In `currency`, ≥ 0: a `balance.low` event is emitted when a ledger entry takes the balance from at or above it to below it. Default null (none).',
  })
  @IsOptional()
  @IsMoney()
  lowBalanceThreshold?: string | null;

  @ApiPropertyOptional({ minimum: 0, maximum: MAX_SESSIONS_LIMIT, default: 1, description: 'Concurrent calls allowed.' })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(MAX_SESSIONS_LIMIT)
  maxSessions?: number;

  @ApiPropertyOptional({ enum: ACCOUNT_STATUSES, default: 'active' })
  @IsOptional()
  @IsIn(ACCOUNT_STATUSES)
  status?: AccountStatus;

  @ApiPropertyOptional({ format: 'uuid', description: 'A routing group (see /v1/routing-groups).' })
  @IsOptional()
  @IsUUID('all', { message: 'routingGroupId must be a UUID' })
  routingGroupId?: string;

  @ExternalIdProperty('unique among the customer’s live accounts')
  externalId?: string | null;

  @MetadataProperty()
  metadata?: Metadata | null;
}

export class UpdateAccountDto {
  @ApiPropertyOptional({ minLength: 1, maxLength: 64, pattern: USERNAME_PATTERN.source })
  @IsOptional()
  @IsString()
  @Matches(USERNAME_PATTERN, { message: USERNAME_MESSAGE })
  username?: string;

  @ApiPropertyOptional({ minLength: 8, maxLength: 256, writeOnly: true })
  @IsOptional()
  @IsString()
  @MinLength(8)
  @MaxLength(256)
  webPassword?: string;

  @ApiPropertyOptional({ minLength: 8, maxLength: 128, writeOnly: true })
  @IsOptional()
  @IsString()
  @MinLength(8)
  @MaxLength(128)
  voipPassword?: string;

  @ApiPropertyOptional({ format: 'uuid', description: 'A tariff owned by the account’s customer.' })
  @IsOptional()
  @IsUUID('all', { message: 'tariffId must be a UUID' })
  tariffId?: string;

  @ApiPropertyOptional({ example: 'Europe/Paris' })
  @IsOptional()
  @IsTimeZone()
  timeZone?: string;

  @ApiPropertyOptional({ example: 'en' })
  @IsOptional()
  @IsLanguage()
  language?: string;

  @OptionalMoneyProperty({ description: 'Credit limit, ≥ 0.' })
  @IsMoney()
  creditLimit?: string;

  @ApiPropertyOptional({
    type: String,
    nullable: true,
    pattern: NON_NEGATIVE_DECIMAL_PATTERN.source,
    example: '10.00',
    description: '≥ 0, in `currency` (see `balance.low`); null removes it.',
  })
  @IsOptional()
  @IsMoney()
  lowBalanceThreshold?: string | null;

  @ApiPropertyOptional({ minimum: 0, maximum: MAX_SESSIONS_LIMIT })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(MAX_SESSIONS_LIMIT)
  maxSessions?: number;

  @ApiPropertyOptional({ enum: ACCOUNT_STATUSES })
  @IsOptional()
  @IsIn(ACCOUNT_STATUSES)
  status?: AccountStatus;

  @ApiPropertyOptional({ format: 'uuid', nullable: true, type: String, description: '`null` removes the routing group.' })
  @ValidateIf((_o, value) => value !== undefined && value !== null)
  @IsUUID('all', { message: 'routingGroupId must be a UUID or null' })
  routingGroupId?: string | null;

  @ExternalIdProperty('unique among the customer’s live accounts')
  externalId?: string | null;

  @MetadataProperty('Replaces the whole metadata (`{}` or null removes every key). Up to 50 keys (≤ 40 characters: letters, digits, _ - . :), string values ≤ 500 characters.')
  metadata?: Metadata | null;

  /** Not writable: present only to answer with a 400 that names the balance operations. */
  @ApiHideProperty()
  @Reject(ACCOUNT_BALANCE_NOT_WRITABLE)
  balance?: never;

  /** Accounts are not moved between customers. */
  @ApiHideProperty()
  @Reject(CUSTOMER_NOT_WRITABLE)
  customerId?: never;
}

/** Every parameter of GET /v1/accounts except `metadata[key]`. */
export const ACCOUNT_LIST_PARAMETERS = ['limit', 'cursor', 'customerId', 'scope', 'q', 'status', 'sort', 'createdFrom', 'createdTo', 'balanceBelow', 'externalId'] as const;

export class AccountListQueryDto extends FilteredListQueryDto {
  @ApiPropertyOptional({ format: 'uuid', description: 'List this visible customer’s accounts (or, with `scope=subtree`, its subtree’s) instead of the caller’s.' })
  @IsOptional()
  @IsUUID('all', { message: 'customerId must be a UUID' })
  customerId?: string;

  @ApiPropertyOptional({
    enum: ['own', 'subtree'],
    default: 'own',
    description: '`own`: the accounts of the customer itself; `subtree`: also those of every customer below it.',
  })
  @IsOptional()
  @IsIn(['own', 'subtree'])
  scope?: 'own' | 'subtree';

  @ApiPropertyOptional({ maxLength: 64, description: 'Case-insensitive substring of the username.' })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  @Transform(({ value }) => normalizeText(value))
  q?: string;

  @ApiPropertyOptional({ enum: ACCOUNT_STATUSES })
  @IsOptional()
  @IsIn(ACCOUNT_STATUSES, { message: `status must be one of ${ACCOUNT_STATUSES.join(', ')}` })
  status?: AccountStatus;
}

export class AccountDto {
  @ApiProperty({ format: 'uuid' })
  id!: string;
  @ApiProperty({ format: 'uuid', description: 'The customer that owns the account.' })
  customerId!: string;
  @ApiProperty({ example: 'alice@sip.example' })
  username!: string;
  @ApiProperty({ format: 'uuid' })
  tariffId!: string;
  @ApiProperty({ example: 'Europe/Paris' })
  timeZone!: string;
  @ApiProperty({ example: 'en' })
  language!: string;
  @MoneyProperty({ description: 'In `currency`, the owning customer’s base currency.' })
  balance!: string;
  @MoneyProperty()
  creditLimit!: string;
  @MoneyProperty({ description: 'balance + creditLimit.' })
  availableCredit!: string;
  @ApiProperty({ type: String, nullable: true, example: '10.00', description: 'A `balance.low` event is emitted when the balance falls below it (null: none).' })
  lowBalanceThreshold!: string | null;
  @ApiProperty({ example: 'USD', description: 'The owning customer’s base currency (accounts have none of their own).' })
  currency!: string;
  @ApiProperty({
    type: DisplayDto,
    description: 'Balance and credit limit in the viewer’s base currency, converted with the viewer’s own exchange-rate table.',
  })
  display!: DisplayDto;
  @ApiProperty({ minimum: 0, maximum: MAX_SESSIONS_LIMIT })
  maxSessions!: number;
  @ApiProperty({ enum: ACCOUNT_STATUSES })
  status!: AccountStatus;
  @ApiProperty({ type: String, format: 'uuid', nullable: true })
  routingGroupId!: string | null;
  @ApiProperty({ type: String, nullable: true, description: 'Your own id for it (unique among its customer’s live accounts).' })
  externalId!: string | null;
  @ApiProperty({ type: 'object', additionalProperties: { type: 'string' }, example: { crmId: 'C-1042' }, description: 'Your own key/value data (`{}` when none).' })
  metadata!: Metadata;
  @ApiProperty({ type: String, format: 'date-time' })
  createdAt!: string;
  @ApiProperty({ type: String, format: 'date-time' })
  updatedAt!: string;
  @ApiProperty({ description: 'Increments on every change (balance operations included); also the ETag.' })
  version!: number;
}

export class AccountPageDto {
  @ApiProperty({ type: [AccountDto] })
  items!: AccountDto[];
  @ApiProperty({ type: String, nullable: true })
  nextCursor!: string | null;
}
