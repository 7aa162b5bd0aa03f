import { applyDecorators } from '@nestjs/common';
import { ApiHideProperty, ApiPropertyOptional, ApiQuery } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsArray, IsIn, IsOptional, IsString, Matches, MaxLength, registerDecorator } from 'class-validator';
import { DECIMAL_PATTERN } from '../../common/money';
import { Metadata, METADATA_MAX_KEY_LENGTH, METADATA_MAX_VALUE_LENGTH } from '../../common/metadata';
import { PageQueryDto } from '../../common/pagination';

/** `sort` of customer and account lists (SPEC §15): a key, `-` for descending. */
export const LIST_SORTS = ['name', '-name', 'createdAt', '-createdAt', 'balance', '-balance'] as const;
export type ListSort = (typeof LIST_SORTS)[number];

/** RFC 3339 date-time with a zone (`Z` or `±hh:mm`), to the microsecond at most. */
export const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d{1,6})?([Zz]|[+-]\d{2}:\d{2})$/;

/** Whether `value` is an RFC 3339 date-time with a zone that names a real instant (no 31 February). */
export function isRfc3339(value: unknown): boolean {
  if (typeof value !== 'string') return false;
  const m = RFC3339.exec(value);
  if (!m) return false;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number);
  const calendar = new Date(Date.UTC(year, month - 1, day));
  return (
    calendar.getUTCFullYear() === year &&
    calendar.getUTCMonth() === month - 1 &&
    calendar.getUTCDate() === day &&
    hour < 24 &&
    minute < 60 &&
    second < 60 &&
    // Offsets of real zones lie within ±14:00 (PostgreSQL refuses some larger ones).
    (m[8].length === 1 || Number(m[8].slice(1, 3)) * 60 + Number(m[8].slice(4, 6)) <= 14 * 60)
  );
}

const IsRfc3339 = () => (object: object, propertyName: string) =>
  registerDecorator({
    name: 'isRfc3339',
    target: object.constructor,
    propertyName,
    options: { message: `${propertyName} must be an RFC 3339 date-time with a zone, e.g. 2026-01-31T00:00:00Z or 2026-01-31T00:00:00%2B01:00` },
    validator: { validate: isRfc3339 },
  });

/**
 * An unencoded `+` of a zone offset reaches us as a space (form encoding); a date-time whose
 * offset is "␠hh:mm" can only have meant "+hh:mm".
 */
const plusFromSpace = Transform(({ value }) => (typeof value === 'string' ? value.replace(/ (\d{2}:\d{2})$/, '+$1') : value));

/**
 * The parameters shared by customer and account lists (SPEC §15): sort, created range,
 * balanceBelow, externalId, and `metadata[key]=value` (lifted into `metadata` by
 * `ListQueryGuard`, documented by `ApiMetadataFilter`).
 */
export class FilteredListQueryDto extends PageQueryDto {
  @ApiPropertyOptional({
    enum: LIST_SORTS,
    description: 'Sort key, `-` for descending. Without it the list keeps its default order. A cursor belongs to the sort it was issued for.',
  })
  @IsOptional()
  @IsIn(LIST_SORTS, { message: `sort must be one of ${LIST_SORTS.join(', ')}` })
  sort?: ListSort;

  @ApiPropertyOptional({ type: String, format: 'date-time', description: 'Created at or after this instant (RFC 3339 with a zone; encode `+` as `%2B`).' })
  @IsOptional()
  @plusFromSpace
  @IsRfc3339()
  createdFrom?: string;

  @ApiPropertyOptional({ type: String, format: 'date-time', description: 'Created before this instant (exclusive; RFC 3339 with a zone).' })
  @IsOptional()
  @plusFromSpace
  @IsRfc3339()
  createdTo?: string;

  @ApiPropertyOptional({ type: String, pattern: DECIMAL_PATTERN.source, example: '5.00', description: 'Balance strictly below this amount (a decimal string, in each row’s own currency).' })
  @IsOptional()
  @IsString()
  @Matches(DECIMAL_PATTERN, { message: 'balanceBelow must be a decimal string with at most 8 fraction digits (e.g. "5.00")' })
  balanceBelow?: string;

  @ApiPropertyOptional({ maxLength: 128, description: 'Exactly this `externalId`.' })
  @IsOptional()
  @IsString()
  @MaxLength(128)
  externalId?: string;

  /** Filled by ListQueryGuard from `metadata[key]=value` parameters: [key, value] pairs (`metadataFilter` makes them an object). */
  @ApiHideProperty()
  @IsOptional()
  @IsArray()
  metadata?: Array<[string, string]>;
}

/** The metadata pairs of a list query as the object `metadata @>` compares with (own properties, `__proto__` included). */
export function metadataFilter(pairs: Array<[string, string]> | undefined): Metadata | undefined {
  return pairs?.length ? (Object.fromEntries(pairs) as Metadata) : undefined;
}

/** OpenAPI for `metadata[key]=value` (a deepObject parameter). */
export const ApiMetadataFilter = () =>
  applyDecorators(
    ApiQuery({
      name: 'metadata',
      required: false,
      style: 'deepObject',
      explode: true,
      schema: { type: 'object', additionalProperties: { type: 'string', maxLength: METADATA_MAX_VALUE_LENGTH }, maxProperties: 50 },
      description: `\`metadata[key]=value\`: rows whose metadata has this value under this key; several pairs must all match. Keys ≤ ${METADATA_MAX_KEY_LENGTH} letters, digits, _ - . :`,
      example: { crmId: 'C-1042' },
    }),
  );
