import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsString, IsUUID, Matches, registerDecorator, ValidateIf } from 'class-validator';
import { DATE_TIME_MESSAGE, NUMBER_PATTERN, parseDateTime } from '../../tariffs/rates/rate-rules';
import { CallPartyDto } from './call.dto';

const IsDateTime = () => (object: object, propertyName: string) =>
  registerDecorator({
    name: 'isDateTime',
    target: object.constructor,
    propertyName,
    options: { message: `${propertyName} ${DATE_TIME_MESSAGE}` },
    validator: { validate: (value: unknown) => typeof value === 'string' && parseDateTime(value) !== undefined },
  });

/** A call about to be connected: may it, and for how long? */
export class AuthorizeCallDto {
  @ApiProperty({ format: 'uuid', description: 'The calling account: in the caller’s subtree or its own.' })
  @IsUUID('all', { message: 'accountId must be a UUID' })
  accountId!: string;

  @ApiProperty({ pattern: NUMBER_PATTERN.source, maxLength: 33, example: '+442071234567', description: 'The dialled digits, `+` optional.' })
  @IsString({ message: 'number must be 1–32 digits, optionally after a "+"' })
  @Matches(NUMBER_PATTERN, { message: 'number must be 1–32 digits, optionally after a "+"' })
  number!: string;

  @ApiPropertyOptional({
    type: String,
    format: 'date-time',
    maxLength: 35,
    example: '2026-03-01T12:00:00Z',
    description: 'When the call connects (prices the call with the rates in effect then); seconds and a zone required. Default: now.',
  })
  @ValidateIf((_object: object, value: unknown) => value !== undefined)
  @IsDateTime()
  connectTime?: string;
}

/** The answer: the longest call every charged level the caller can see can pay for. */
export class CallAuthorizationDto {
  @ApiProperty({ description: 'Whether the call may connect: `maxDuration` > 0.' })
  authorized!: boolean;

  @ApiProperty({ type: 'integer', minimum: 0, maximum: 86400, example: 3600, description: 'The longest duration in whole seconds that every level’s available credit covers (at most 86,400).' })
  maxDuration!: number;

  @ApiProperty({
    type: CallPartyDto,
    nullable: true,
    description: 'The party whose available credit (or missing rate, tariff or exchange rate) gives the smallest maximum; null when nothing limits the call below 86,400 seconds.',
  })
  limitedBy!: CallPartyDto | null;
}
