import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional, ApiPropertyOptions } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsOptional, IsString, Matches, MaxLength, MinLength, registerDecorator, ValidateIf, ValidationOptions } from 'class-validator';
import { DECIMAL_PATTERN, NON_NEGATIVE_DECIMAL_PATTERN } from './money';
import { isCurrencyCode } from '../reference/currency-data';
import { isLanguage, isTimeZone } from '../reference/reference-data';

function predicate(name: string, test: (value: unknown) => boolean, message: string) {
  return (options?: ValidationOptions) => (object: object, propertyName: string) =>
    registerDecorator({
      name,
      target: object.constructor,
      propertyName,
      options: { message: `${propertyName} ${message}`, ...options },
      validator: { validate: (value: unknown) => test(value) },
    });
}

/** Money: a decimal string (never a JSON number) with at most 8 fraction digits. */
export const IsMoney = (options: { allowNegative?: boolean; positive?: boolean } = {}) =>
  predicate(
    'isMoney',
    (v) =>
      typeof v === 'string' &&
      (options.allowNegative ? DECIMAL_PATTERN : NON_NEGATIVE_DECIMAL_PATTERN).test(v) &&
      (!options.positive || /[1-9]/.test(v)),
    `must be a${options.positive ? ' positive' : options.allowNegative ? '' : ' non-negative'} decimal string with at most 8 fraction digits (e.g. "12.50"), not a number`,
  )();

export const IsCurrencyCode = predicate('isCurrencyCode', isCurrencyCode, 'must be an ISO 4217 currency code (see /v1/currencies)');
export const IsTimeZone = predicate('isTimeZone', isTimeZone, 'must be an IANA time zone name (see /v1/time-zones)');
export const IsLanguage = predicate('isLanguage', isLanguage, 'must be a language code from /v1/languages');

/** Text as it is stored and compared (SPEC §11): Unicode NFC, without leading or trailing white space. */
export function normalizeText(value: unknown): unknown {
  return typeof value === 'string' ? value.normalize('NFC').trim() : value;
}

/**
 * A name (customers, tariffs, routing groups, API keys): NFC-normalized and trimmed before it
 * is validated, stored or compared, so "Café" typed in NFC or NFD is one name; then 1–`max`
 * characters (a name of only spaces is a 400).
 */
export const IsName = (max = 128) =>
  applyDecorators(
    Transform(({ value }) => normalizeText(value)),
    IsString(),
    MinLength(1, { message: '$property must not be empty (white space at either end is removed)' }),
    MaxLength(max),
  );

export const LOGIN_PATTERN = /^[A-Za-z0-9._@-]{1,64}$/;
export const IsLogin = () =>
  Matches(LOGIN_PATTERN, { message: 'webLogin must be 1–64 letters, digits or . _ @ -' });

export const MoneyProperty = (options: ApiPropertyOptions = {}) =>
  ApiProperty({ type: String, pattern: DECIMAL_PATTERN.source, example: '12.50', ...options } as ApiPropertyOptions);

export const OptionalMoneyProperty = (options: ApiPropertyOptions = {}) =>
  applyDecorators(
    ApiPropertyOptional({ type: String, pattern: NON_NEGATIVE_DECIMAL_PATTERN.source, example: '12.50', ...options } as ApiPropertyOptions),
    IsOptional(),
  );

/**
 * A field that must not be sent, answered with a 400 that says why and what to do instead
 * (better than the generic "property should not exist").
 */
export const Reject = (message: string) =>
  applyDecorators(
    ValidateIf((o: Record<string, unknown>, v: unknown) => v !== undefined),
    ((object: object, propertyName: string | symbol) =>
      registerDecorator({
        name: 'reject',
        target: object.constructor,
        propertyName: String(propertyName),
        options: { message },
        validator: { validate: () => false },
      })) as PropertyDecorator,
  );
