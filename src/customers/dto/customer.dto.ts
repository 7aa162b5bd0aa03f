import { ApiHideProperty, ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsIn, IsOptional, IsString, IsUUID, MaxLength, MinLength, ValidateIf } from 'class-validator';
import { AddressViewDto, ContactProfileDto } from './contact.dto';
import { FilteredListQueryDto } from './list-query';
import { NON_NEGATIVE_DECIMAL_PATTERN } from '../../common/money';
import { Metadata, MetadataProperty } from '../../common/metadata';
import { IsCurrencyCode, IsLanguage, IsLogin, IsMoney, IsName, normalizeText, IsTimeZone, MoneyProperty, OptionalMoneyProperty, Reject } from '../../common/validation';

export const CUSTOMER_STATUSES = ['active', 'suspended'] as const;
export type CustomerStatus = (typeof CUSTOMER_STATUSES)[number];

const BALANCE_NOT_WRITABLE =
  'balance cannot be set here: use POST /v1/customers/{id}/balance-operations (add_funds, credit, debit)';

/** `externalId` in a body: the integrator's own id, ≤ 128 characters; null clears it on PATCH. */
export const ExternalIdProperty = (unique: string) => (object: object, propertyName: string) => {
  ApiPropertyOptional({ type: String, nullable: true, minLength: 1, maxLength: 128, example: 'crm-42', description: `Your own id for it, ${unique}; null clears it.` })(object, propertyName);
  ValidateIf((_o, v) => v !== undefined && v !== null)(object, propertyName);
  IsString()(object, propertyName);
  MinLength(1)(object, propertyName);
  MaxLength(128)(object, propertyName);
};

export class CreateCustomerDto extends ContactProfileDto {
  @ApiPropertyOptional({ format: 'uuid', description: 'Parent of the new customer (any live customer in the caller’s subtree); default the caller.' })
  @IsOptional()
  @IsUUID('all', { message: 'parentId must be a UUID' })
  parentId?: string;

  @ApiProperty({ minLength: 1, maxLength: 128, description: 'Unique among siblings.' })
  @IsName()
  name!: string;

  @ApiProperty({ format: 'uuid', description: 'A tariff owned by the new customer’s parent.' })
  @IsUUID('all', { message: 'tariffId must be a UUID' })
  tariffId!: string;

  @ApiPropertyOptional({ example: 'Europe/Paris', description: 'IANA name; default the parent’s.' })
  @IsOptional()
  @IsTimeZone()
  timeZone?: string;

  @ApiPropertyOptional({ example: 'en', description: 'A code from /v1/languages; default the parent’s.' })
  @IsOptional()
  @IsLanguage()
  language?: string;

  @ApiProperty({ example: 'acme-admin', maxLength: 64, description: 'Unique among live customers, case-insensitive.' })
  @IsString()
  @IsLogin()
  webLogin!: string;

  @ApiProperty({ minLength: 8, maxLength: 256, writeOnly: true })
  @IsString()
  @MinLength(8)
  @MaxLength(256)
  webPassword!: string;

  @ApiPropertyOptional({ example: 'EUR', description: 'ISO 4217, fixed at creation; default the parent’s.' })
  @IsOptional()
  @IsCurrencyCode()
  baseCurrency?: string;

  @OptionalMoneyProperty({ description: 'Opening balance (may be negative down to -creditLimit); becomes the first ledger entry, so a non-zero one needs `balances.operate` (403 naming it).', pattern: undefined })
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
    description: 'In the base currency, ≥ 0: a `balance.low` event is emitted when a ledger entry takes the balance from at or above it to below it. Default null (none).',
  })
  @IsOptional()
  @IsMoney()
  lowBalanceThreshold?: string | null;

  @ApiPropertyOptional({ enum: CUSTOMER_STATUSES, default: 'active' })
  @IsOptional()
  @IsIn(CUSTOMER_STATUSES)
  status?: CustomerStatus;

  @ApiPropertyOptional({ format: 'uuid', type: String, nullable: true, description: 'A routing group from /v1/routing-groups.' })
  @IsOptional()
  @ValidateIf((_o, v) => v !== null)
  @IsUUID('all', { message: 'routingGroupId must be a UUID' })
  routingGroupId?: string | null;

  @ExternalIdProperty('unique among the parent’s live sub-customers')
  externalId?: string | null;

  @MetadataProperty()
  metadata?: Metadata | null;
}

export class UpdateCustomerDto extends ContactProfileDto {
  @ApiPropertyOptional({ minLength: 1, maxLength: 128 })
  @IsOptional()
  @IsName()
  name?: string;

  @ApiPropertyOptional({ format: 'uuid' })
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

  @ApiPropertyOptional({ maxLength: 64 })
  @IsOptional()
  @IsString()
  @IsLogin()
  webLogin?: string;

  @ApiPropertyOptional({ minLength: 8, maxLength: 256, writeOnly: true })
  @IsOptional()
  @IsString()
  @MinLength(8)
  @MaxLength(256)
  webPassword?: string;

  @OptionalMoneyProperty({ description: 'Credit limit, ≥ 0.' })
  @IsMoney()
  creditLimit?: string;

  @ApiPropertyOptional({
    type: String,
    nullable: true,
    pattern: NON_NEGATIVE_DECIMAL_PATTERN.source,
    example: '10.00',
    description: '≥ 0, in the base currency (see `balance.low`); null removes it.',
  })
  @IsOptional()
  @IsMoney()
  lowBalanceThreshold?: string | null;

  @ApiPropertyOptional({
    enum: CUSTOMER_STATUSES,
    description:
      'Suspending cuts the access of the customer and of its whole subtree on the next request (tokens, refresh, login, API keys). ' +
      'Reactivating restores the subtree’s existing credentials; the customer’s own sessions end with its suspension.',
  })
  @IsOptional()
  @IsIn(CUSTOMER_STATUSES)
  status?: CustomerStatus;

  @ApiPropertyOptional({ format: 'uuid', type: String, nullable: true, description: 'A routing group from /v1/routing-groups; null to clear.' })
  @IsOptional()
  @ValidateIf((_o, v) => v !== null)
  @IsUUID('all', { message: 'routingGroupId must be a UUID' })
  routingGroupId?: string | null;

  @ExternalIdProperty('unique among the parent’s live sub-customers')
  externalId?: string | null;

  @MetadataProperty('Replaces the whole metadata (`{}` or null removes every key). Up to 50 keys (≤ 40 characters: letters, digits, _ - . :), string values ≤ 500 characters.')
  metadata?: Metadata | null;

  /** Not writable: present only to answer with a 400 that names the balance operations. */
  @ApiHideProperty()
  @Reject(BALANCE_NOT_WRITABLE)
  balance?: never;
}

/** Every parameter of GET /v1/customers except `metadata[key]`. */
export const CUSTOMER_LIST_PARAMETERS = ['limit', 'cursor', 'parentId', 'scope', 'q', 'status', 'sort', 'createdFrom', 'createdTo', 'balanceBelow', 'externalId'] as const;

export class CustomerListQueryDto extends FilteredListQueryDto {
  @ApiPropertyOptional({ format: 'uuid', description: 'List this visible customer’s children (or subtree) instead of the caller’s.' })
  @IsOptional()
  @IsUUID('all', { message: 'parentId must be a UUID' })
  parentId?: string;

  @ApiPropertyOptional({ enum: ['children', 'subtree'], default: 'children', description: '`subtree`: every descendant, each with its `depth` relative to the caller.' })
  @IsOptional()
  @IsIn(['children', 'subtree'])
  scope?: 'children' | 'subtree';

  @ApiPropertyOptional({ maxLength: 128, description: 'Case-insensitive substring of the name.' })
  @IsOptional()
  @IsString()
  @MaxLength(128)
  @Transform(({ value }) => normalizeText(value))
  q?: string;

  @ApiPropertyOptional({ enum: CUSTOMER_STATUSES })
  @IsOptional()
  @IsIn(CUSTOMER_STATUSES, { message: `status must be one of ${CUSTOMER_STATUSES.join(', ')}` })
  status?: CustomerStatus;
}

export class DisplayDto {
  @ApiProperty({ example: 'USD', description: 'The viewer’s base currency.' })
  currency!: string;
  @ApiProperty({ type: String, nullable: true, example: '12.50', description: 'null when the viewer’s table has no rate for the customer’s currency.' })
  balance!: string | null;
  @ApiProperty({ type: String, nullable: true, example: '100.00' })
  creditLimit!: string | null;
}

export class CustomerDto {
  @ApiProperty({ format: 'uuid' })
  id!: string;
  @ApiProperty({ format: 'uuid', nullable: true, type: String, description: 'null for the caller’s own record.' })
  parentId!: string | null;
  @ApiProperty()
  name!: string;
  @ApiProperty({ format: 'uuid', nullable: true, type: String, description: 'null only for the root.' })
  tariffId!: string | null;
  @ApiProperty({ example: 'Europe/Paris' })
  timeZone!: string;
  @ApiProperty({ example: 'en' })
  language!: string;
  @ApiProperty()
  webLogin!: string;
  @ApiProperty({ example: 'USD' })
  baseCurrency!: string;
  @MoneyProperty({ description: 'In the customer’s base currency.' })
  balance!: string;
  @MoneyProperty()
  creditLimit!: string;
  @MoneyProperty({ description: 'balance + creditLimit.' })
  availableCredit!: string;
  @ApiProperty({ type: String, nullable: true, example: '10.00', description: 'A `balance.low` event is emitted when the balance falls below it (null: none).' })
  lowBalanceThreshold!: string | null;
  @ApiProperty({
    type: DisplayDto,
    description: 'Balance and credit limit in the viewer’s base currency, converted with the viewer’s own exchange-rate table.',
  })
  display!: DisplayDto;
  @ApiProperty({
    enum: CUSTOMER_STATUSES,
    description: 'The customer’s own setting. A customer below a suspended ancestor shows `active` but is refused access as well.',
  })
  status!: CustomerStatus;
  @ApiProperty({ type: String, format: 'uuid', nullable: true })
  routingGroupId!: string | null;
  @ApiProperty({ type: String, nullable: true, description: 'Your own id for it (unique among its parent’s live sub-customers).' })
  externalId!: string | null;
  @ApiProperty({ type: 'object', additionalProperties: { type: 'string' }, example: { crmId: 'C-1042' }, description: 'Your own key/value data (`{}` when none).' })
  metadata!: Metadata;
  @ApiProperty({ type: String, nullable: true })
  companyName!: string | null;
  @ApiProperty({ type: String, nullable: true, format: 'email' })
  email!: string | null;
  @ApiProperty({ type: String, nullable: true, example: '+14155550123', description: 'E.164.' })
  phone!: string | null;
  // Inline, not a $ref: OpenAPI 3.0 cannot make a referenced schema nullable (allOf + nullable still demands an object).
  @ApiProperty({
    type: 'object',
    nullable: true,
    selfRequired: true,
    required: ['line1', 'line2', 'city', 'region', 'postalCode', 'country'],
    properties: {
      line1: { type: 'string', nullable: true },
      line2: { type: 'string', nullable: true },
      city: { type: 'string', nullable: true },
      region: { type: 'string', nullable: true },
      postalCode: { type: 'string', nullable: true },
      country: { type: 'string', example: 'US', description: 'ISO 3166-1 alpha-2.' },
    },
    description: 'null when none; every line present (null when not given).',
  })
  address!: AddressViewDto | null;
  @ApiProperty({ type: String, nullable: true })
  taxId!: string | null;
  @ApiPropertyOptional({ description: 'Only in `scope=subtree` lists: depth relative to the caller (1 = child).' })
  depth?: number;
  @ApiProperty({ type: String, format: 'date-time' })
  createdAt!: string;
  @ApiProperty({ type: String, format: 'date-time' })
  updatedAt!: string;
  @ApiProperty({ description: 'Increments on every change; also the ETag.' })
  version!: number;
}

export class CustomerPageDto {
  @ApiProperty({ type: [CustomerDto] })
  items!: CustomerDto[];
  @ApiProperty({ type: String, nullable: true })
  nextCursor!: string | null;
}

export { BALANCE_NOT_WRITABLE };
