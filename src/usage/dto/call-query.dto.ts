import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, IsUUID, Matches, registerDecorator, ValidationOptions } from 'class-validator';
import { PageQueryDto } from '../../common/pagination';
import { DATE_TIME_MESSAGE, NUMBER_PATTERN, parseDateTime } from '../../tariffs/rates/rate-rules';
import { CallDto } from './call.dto';

/** An RFC 3339 date-time with seconds and a zone (the rule of `connectTime` and `effectiveFrom`). */
export function IsDateTime(options?: ValidationOptions) {
  return (object: object, propertyName: string) =>
    registerDecorator({
      name: 'isDateTime',
      target: object.constructor,
      propertyName,
      options: { message: `${propertyName} ${DATE_TIME_MESSAGE}`, ...options },
      validator: { validate: (value: unknown) => typeof value === 'string' && parseDateTime(value) !== undefined },
    });
}

export class CallListQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ format: 'uuid', description: 'Only the calls of this account (one the caller sees; else 404).' })
  @IsOptional()
  @IsUUID('all', { message: 'accountId must be a UUID' })
  accountId?: string;

  @ApiPropertyOptional({
    format: 'uuid',
    description: 'Only the calls of this customer’s own accounts (or, with `scope=subtree`, of its whole subtree); the caller or a customer below it, else 404.',
  })
  @IsOptional()
  @IsUUID('all', { message: 'customerId must be a UUID' })
  customerId?: string;

  @ApiPropertyOptional({
    enum: ['own', 'subtree'],
    description:
      '`own`: the calls of the accounts of the customer itself (`customerId`, or the caller); `subtree`: also those of every customer below it. Default: `own` with `customerId`, `subtree` without (all the calls the caller sees).',
  })
  @IsOptional()
  @IsIn(['own', 'subtree'])
  scope?: 'own' | 'subtree';

  @ApiPropertyOptional({ type: String, format: 'date-time', description: 'Calls connected at or after this instant (RFC 3339, with a zone).' })
  @IsOptional()
  @IsDateTime()
  from?: string;

  @ApiPropertyOptional({ type: String, format: 'date-time', description: 'Calls connected before this instant (RFC 3339, with a zone).' })
  @IsOptional()
  @IsDateTime()
  to?: string;

  @ApiPropertyOptional({ example: '4420', pattern: NUMBER_PATTERN.source, description: 'Calls whose dialled number starts with these digits (a leading `+` is ignored, here and on the number).' })
  @IsOptional()
  @IsString()
  @Matches(NUMBER_PATTERN, { message: 'number must be 1–32 digits, optionally after a +' })
  number?: string;
}

export class CallPageDto {
  @ApiProperty({ type: [CallDto] })
  items!: CallDto[];
  @ApiProperty({ type: String, nullable: true })
  nextCursor!: string | null;
}
