import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import { IsEmail, IsISO31661Alpha2, IsPhoneNumber, IsString, Matches, MaxLength, MinLength, ValidateIf, ValidateNested } from 'class-validator';
import { normalizeText } from '../../common/validation';

/** Optional text of the profile: NFC, trimmed, 1–`max` characters; null clears it on PATCH. */
const ProfileText = (max: number, example?: string, description?: string) =>
  applyDecorators(
    ApiPropertyOptional({ type: String, nullable: true, minLength: 1, maxLength: max, example, description }),
    Transform(({ value }) => normalizeText(value)),
    ValidateIf((_o, v) => v !== undefined && v !== null),
    IsString(),
    MinLength(1, { message: '$property must not be empty (white space at either end is removed); send null to clear it' }),
    MaxLength(max),
  );

/** A postal address; `country` is required, the rest optional. */
export class AddressDto {
  @ProfileText(128, '1 Market Street')
  line1?: string | null;

  @ProfileText(128, 'Suite 400')
  line2?: string | null;

  @ProfileText(128, 'San Francisco')
  city?: string | null;

  @ProfileText(128, 'CA', 'State, province or region.')
  region?: string | null;

  @ProfileText(32, '94105')
  postalCode?: string | null;

  @ApiProperty({ example: 'US', minLength: 2, maxLength: 2, description: 'ISO 3166-1 alpha-2 (stored in capitals).' })
  @Transform(({ value }) => (typeof value === 'string' ? value.trim().toUpperCase() : value))
  @IsString()
  @IsISO31661Alpha2({ message: 'country must be an ISO 3166-1 alpha-2 country code (e.g. "DE")' })
  country!: string;
}

/** The address as shown: every line present, null when not given (its schema is written inline on CustomerDto). */
export interface AddressViewDto {
  line1: string | null;
  line2: string | null;
  city: string | null;
  region: string | null;
  postalCode: string | null;
  country: string;
}

/** E.164: `+`, country code and number, at most 15 digits, no spaces. */
export const E164 = /^\+[1-9]\d{1,14}$/;

/** The contact and billing profile fields of a customer body (create and PATCH; null clears on PATCH). */
export class ContactProfileDto {
  @ProfileText(256, 'Acme Telecom Ltd', 'Legal or trading name for invoices.')
  companyName?: string | null;

  @ApiPropertyOptional({ type: String, nullable: true, format: 'email', maxLength: 254, example: 'billing@acme.example' })
  @Transform(({ value }) => (typeof value === 'string' ? value.trim() : value))
  @ValidateIf((_o, v) => v !== undefined && v !== null)
  @IsString()
  @MaxLength(254)
  @IsEmail({}, { message: 'email must be an email address' })
  email?: string | null;

  @ApiPropertyOptional({ type: String, nullable: true, pattern: E164.source, maxLength: 16, example: '+14155550123', description: 'E.164 (`+`, country code, number; no spaces).' })
  @ValidateIf((_o, v) => v !== undefined && v !== null)
  @IsString()
  @MaxLength(16)
  @Matches(E164, { message: 'phone must be in E.164 form: + then country code and number, digits only (e.g. +14155550123)' })
  @IsPhoneNumber(undefined, { message: 'phone must be a valid phone number in E.164 form (e.g. +14155550123)' })
  phone?: string | null;

  @ApiPropertyOptional({ type: AddressDto, nullable: true, description: 'Replaces the whole address; null clears it.' })
  @ValidateIf((_o, v) => v !== undefined && v !== null)
  @ValidateNested()
  @Type(() => AddressDto)
  address?: AddressDto | null;

  @ApiPropertyOptional({ type: String, nullable: true, maxLength: 64, pattern: '^[A-Za-z0-9][A-Za-z0-9 ./-]{0,63}$', example: 'DE123456789', description: 'VAT or other tax number.' })
  @Transform(({ value }) => normalizeText(value))
  @ValidateIf((_o, v) => v !== undefined && v !== null)
  @IsString()
  @Matches(/^[A-Za-z0-9][A-Za-z0-9 ./-]{0,63}$/, { message: 'taxId must be 1–64 letters, digits, spaces or . / - (starting with a letter or digit)' })
  taxId?: string | null;
}
