import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional, ApiPropertyOptions } from '@nestjs/swagger';
import { IsIn, IsInt, IsOptional, IsString, Matches, Max, Min, registerDecorator, ValidateIf } from 'class-validator';
import { NON_NEGATIVE_DECIMAL_PATTERN } from '../../../common/money';
import { PageQueryDto } from '../../../common/pagination';
import { IsMoney } from '../../../common/validation';
import {
  DATE_TIME_MESSAGE,
  INTERVAL_MESSAGE,
  MAX_INTERVAL_SECONDS,
  NUMBER_PATTERN,
  parseDateTime,
  PREFIX_MESSAGE,
  PREFIX_PATTERN,
} from '../rate-rules';

const IsDateTime = () => (object: object, propertyName: string) =>
  registerDecorator({
    name: 'isDateTime',
    target: object.constructor,
    propertyName,
    options: { message: `${propertyName} ${DATE_TIME_MESSAGE}` },
    validator: { validate: (value: unknown) => typeof value === 'string' && parseDateTime(value) !== undefined },
  });

/** Optional on PATCH, but `null` is not a value: it is validated (and refused) like any other. */
const NotNullIfPresent = () => ValidateIf((_object: object, value: unknown) => value !== undefined);

const Prefix = () =>
  applyDecorators(IsString(), Matches(PREFIX_PATTERN, { message: `prefix ${PREFIX_MESSAGE}` }));
const Interval = () =>
  applyDecorators(
    IsInt({ message: `$property ${INTERVAL_MESSAGE}` }),
    Min(1, { message: `$property ${INTERVAL_MESSAGE}` }),
    Max(MAX_INTERVAL_SECONDS, { message: `$property ${INTERVAL_MESSAGE}` }),
  );

const MONEY_DOC: ApiPropertyOptions = { type: String, pattern: NON_NEGATIVE_DECIMAL_PATTERN.source, maxLength: 31 } as ApiPropertyOptions;
const PREFIX_DOC: ApiPropertyOptions = { pattern: PREFIX_PATTERN.source, minLength: 1, maxLength: 32, example: '4420' } as ApiPropertyOptions;
const INTERVAL_DOC: ApiPropertyOptions = { type: 'integer', minimum: 1, maximum: MAX_INTERVAL_SECONDS } as ApiPropertyOptions;
const DATE_TIME_DOC: ApiPropertyOptions = {
  type: String,
  format: 'date-time',
  maxLength: 35,
  example: '2025-01-01T00:00:00.000Z',
  description: 'When the rate takes effect; seconds and a zone required, at most millisecond precision.',
} as ApiPropertyOptions;

export class CreateRateDto {
  @ApiProperty({ ...PREFIX_DOC, description: 'Dialled-number prefix the rate applies to.' })
  @Prefix()
  prefix!: string;

  @ApiProperty({ ...MONEY_DOC, example: '0.0125', description: 'Price per minute, in the tariff currency, ≥ 0.' })
  @IsMoney()
  price!: string;

  @ApiPropertyOptional({ ...INTERVAL_DOC, default: 1, description: 'First billing increment, seconds.' })
  @IsOptional()
  @Interval()
  firstInterval?: number;

  @ApiPropertyOptional({ ...INTERVAL_DOC, default: 1, description: 'Every later billing increment, seconds.' })
  @IsOptional()
  @Interval()
  nextInterval?: number;

  @ApiPropertyOptional({ ...MONEY_DOC, example: '0', default: '0', description: 'Charged once per connected call, ≥ 0.' })
  @IsOptional()
  @IsMoney()
  connectFee?: string;

  @ApiPropertyOptional({ ...DATE_TIME_DOC, description: `${DATE_TIME_DOC.description} Default: now.` })
  @IsOptional()
  @IsDateTime()
  effectiveFrom?: string;
}

export class UpdateRateDto {
  @ApiPropertyOptional(PREFIX_DOC)
  @NotNullIfPresent()
  @Prefix()
  prefix?: string;

  @ApiPropertyOptional({ ...MONEY_DOC, example: '0.0125' })
  @NotNullIfPresent()
  @IsMoney()
  price?: string;

  @ApiPropertyOptional(INTERVAL_DOC)
  @NotNullIfPresent()
  @Interval()
  firstInterval?: number;

  @ApiPropertyOptional(INTERVAL_DOC)
  @NotNullIfPresent()
  @Interval()
  nextInterval?: number;

  @ApiPropertyOptional({ ...MONEY_DOC, example: '0' })
  @NotNullIfPresent()
  @IsMoney()
  connectFee?: string;

  @ApiPropertyOptional(DATE_TIME_DOC)
  @NotNullIfPresent()
  @IsDateTime()
  effectiveFrom?: string;
}

export class RateListQueryDto extends PageQueryDto {
  @ApiPropertyOptional({
    ...PREFIX_DOC,
    description: 'Only rates whose prefix **starts with** this (`44` lists 44, 441, 4420, ...).',
  })
  @IsOptional()
  @Prefix()
  prefix?: string;
}

export const RATE_DECK_MODES = ['replace', 'merge'] as const;
export type RateDeckMode = (typeof RATE_DECK_MODES)[number];

export class RateDeckQueryDto {
  @ApiPropertyOptional({
    enum: RATE_DECK_MODES,
    default: 'replace',
    description:
      '`replace`: the deck becomes the whole rate table (every other rate is deleted). ' +
      '`merge`: rows are upserted on (prefix, effectiveFrom); rates not in the deck stay.',
  })
  @IsOptional()
  @IsIn(RATE_DECK_MODES, { message: 'mode must be replace or merge' })
  mode?: RateDeckMode;
}

export class RateLookupQueryDto {
  @ApiProperty({ pattern: NUMBER_PATTERN.source, maxLength: 33, example: '+442071234567', description: 'Dialled number: 1–32 digits, optional leading +.' })
  @IsString()
  @Matches(NUMBER_PATTERN, { message: 'number must be 1–32 digits, optionally with a leading +' })
  number!: string;
}

export class RateDto {
  @ApiProperty({ format: 'uuid' })
  id!: string;
  @ApiProperty({ format: 'uuid' })
  tariffId!: string;
  @ApiProperty({ example: '4420' })
  prefix!: string;
  @ApiProperty({ ...MONEY_DOC, example: '0.0125' })
  price!: string;
  @ApiProperty({ type: 'integer', example: 1 })
  firstInterval!: number;
  @ApiProperty({ type: 'integer', example: 1 })
  nextInterval!: number;
  @ApiProperty({ ...MONEY_DOC, example: '0.00' })
  connectFee!: string;
  @ApiProperty({ type: String, format: 'date-time' })
  effectiveFrom!: string;
  @ApiProperty({ type: String, format: 'date-time' })
  createdAt!: string;
  @ApiProperty({ type: String, format: 'date-time' })
  updatedAt!: string;
  @ApiProperty()
  version!: number;
}

export class RatePageDto {
  @ApiProperty({ type: [RateDto] })
  items!: RateDto[];
  @ApiProperty({ type: String, nullable: true })
  nextCursor!: string | null;
}

export class RateDeckResultDto {
  @ApiProperty({ enum: RATE_DECK_MODES })
  mode!: RateDeckMode;
  @ApiProperty({ description: 'Rows of the deck.' })
  rows!: number;
  @ApiProperty({ description: 'Rates created.' })
  inserted!: number;
  @ApiProperty({ description: 'Existing rates (same prefix and effectiveFrom) whose values changed (merge).' })
  updated!: number;
  @ApiProperty({ description: 'Existing rates the deck repeated unchanged (merge).' })
  unchanged!: number;
  @ApiProperty({ description: 'Rates removed (replace).' })
  deleted!: number;
  @ApiProperty({ description: 'Rates of the tariff afterwards.' })
  total!: number;
}

class DeckErrorDto {
  @ApiProperty({ description: 'Line number in the file; the header is row 1.', example: 17 })
  row!: number;
  @ApiProperty({ example: '/rows/17/price' })
  pointer!: string;
  @ApiProperty({ example: 'price must be a decimal ≥ 0 with at most 8 fraction digits' })
  detail!: string;
}

/** The 400 of a deck upload: `type` ends in `invalid-rate-deck` (or `validation-error` for a bad `mode`). */
export class RateDeckProblemDto {
  @ApiProperty({ example: 'https://canopy.dev/problems/invalid-rate-deck' })
  type!: string;
  @ApiProperty({ example: 'Invalid rate deck' })
  title!: string;
  @ApiProperty({ example: 400 })
  status!: number;
  @ApiPropertyOptional()
  detail?: string;
  @ApiPropertyOptional()
  instance?: string;
  @ApiPropertyOptional({ type: [DeckErrorDto], description: `At most 100 entries; \`errorCount\` says how many there were.` })
  errors?: DeckErrorDto[];
  @ApiPropertyOptional({ description: 'How many errors the deck has in all.' })
  errorCount?: number;
}
