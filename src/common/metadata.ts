import { applyDecorators } from '@nestjs/common';
import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, registerDecorator, ValidationOptions } from 'class-validator';

/**
 * An integrator's own key/value data on customers, accounts and balance operations (SPEC §15):
 * a flat JSON object of strings, at most `METADATA_MAX_KEYS` keys of at most
 * `METADATA_MAX_KEY_LENGTH` characters, values of at most `METADATA_MAX_VALUE_LENGTH`.
 * Stored as `jsonb`; filtered with `metadata @> '{"key": "value"}'` on a GIN index.
 */
export type Metadata = Record<string, string>;

export const METADATA_MAX_KEYS = 50;
export const METADATA_MAX_KEY_LENGTH = 40;
export const METADATA_MAX_VALUE_LENGTH = 500;

/** Keys: letters, digits and `_ - . :` (they appear in query strings as `metadata[key]`). */
export const METADATA_KEY_PATTERN = /^[A-Za-z0-9_.:-]{1,40}$/;

/** Why `value` is not valid metadata, or undefined when it is. */
export function metadataError(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'must be an object of strings';
  const entries = Object.entries(value);
  if (entries.length > METADATA_MAX_KEYS) return `may have at most ${METADATA_MAX_KEYS} keys (has ${entries.length})`;
  for (const [key, v] of entries) {
    if (!METADATA_KEY_PATTERN.test(key)) return `key "${key.slice(0, 60)}" must be 1–${METADATA_MAX_KEY_LENGTH} letters, digits or _ - . :`;
    if (typeof v !== 'string') return `value of "${key}" must be a string`;
    if (v.length > METADATA_MAX_VALUE_LENGTH) return `value of "${key}" may have at most ${METADATA_MAX_VALUE_LENGTH} characters`;
    if (v.includes('\u0000')) return `value of "${key}" must not contain NUL characters`;
  }
  return undefined;
}

/** class-validator: the property is valid metadata (the message names what is wrong). */
export function IsMetadata(options?: ValidationOptions): PropertyDecorator {
  return (object: object, propertyName: string | symbol) =>
    registerDecorator({
      name: 'isMetadata',
      target: object.constructor,
      propertyName: String(propertyName),
      options: { message: (args) => `${String(propertyName)} ${metadataError(args.value) ?? 'is invalid'}`, ...options },
      validator: { validate: (value: unknown) => metadataError(value) === undefined },
    });
}

/** An optional `metadata` body property, documented once. */
export function MetadataProperty(description = 'Your own data: up to 50 keys (≤ 40 characters: letters, digits, _ - . :), string values ≤ 500 characters; null (or {}) for none.') {
  return applyDecorators(
    ApiPropertyOptional({
      type: 'object',
      nullable: true,
      additionalProperties: { type: 'string', maxLength: METADATA_MAX_VALUE_LENGTH },
      maxProperties: METADATA_MAX_KEYS,
      example: { crmId: 'C-1042', segment: 'wholesale' },
      description,
    }),
    IsOptional(),
    IsMetadata(),
  );
}
