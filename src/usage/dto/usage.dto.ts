import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsUUID, registerDecorator, ValidationOptions } from 'class-validator';
import { PageQueryDto } from '../../common/pagination';
import { MoneyProperty } from '../../common/validation';

export const USAGE_GROUPS = ['account', 'customer', 'day', 'prefix'] as const;
export type UsageGroupBy = (typeof USAGE_GROUPS)[number];

/** The longest range a report covers, in days (both ends included). */
export const MAX_USAGE_DAYS = 366;

const DATE_PATTERN = /^([1-9]\d{3})-(\d{2})-(\d{2})$/;

/** Whether `value` is a calendar date written `YYYY-MM-DD` (2025-02-30 is not). */
export function isCalendarDate(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  const m = DATE_PATTERN.exec(value);
  if (!m) return false;
  const [year, month, day] = m.slice(1).map(Number);
  const date = new Date(Date.UTC(year, month - 1, day));
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}

function IsCalendarDate(options?: ValidationOptions) {
  return (object: object, propertyName: string) =>
    registerDecorator({
      name: 'isCalendarDate',
      target: object.constructor,
      propertyName,
      options: { message: `${propertyName} must be a date written YYYY-MM-DD, e.g. "2025-01-31"`, ...options },
      validator: { validate: isCalendarDate },
    });
}

export class UsageQueryDto extends PageQueryDto {
  @ApiPropertyOptional({
    type: String,
    format: 'date',
    example: '2025-01-01',
    description: 'First day (in the caller’s time zone), included. Default: the first day of `to`’s month.',
  })
  @IsOptional()
  @IsCalendarDate()
  from?: string;

  @ApiPropertyOptional({
    type: String,
    format: 'date',
    example: '2025-01-31',
    description: `Last day (in the caller’s time zone), included. Default: today there. At most ${MAX_USAGE_DAYS} days from \`from\`.`,
  })
  @IsOptional()
  @IsCalendarDate()
  to?: string;

  @ApiPropertyOptional({
    enum: USAGE_GROUPS,
    default: 'day',
    description:
      '`account`: the account that made the call; `customer`: that account’s customer; `day`: the local date of `connectTime` in the caller’s time zone; `prefix`: the prefix of the reported side’s own rate (the rate it sold the call at).',
  })
  @IsOptional()
  @IsIn(USAGE_GROUPS)
  groupBy?: UsageGroupBy;

  @ApiPropertyOptional({
    format: 'uuid',
    description: 'Report this customer’s business (the calls it sold: its subtree’s) instead of the caller’s; the caller or a customer below it, else 404. Days stay in the caller’s time zone.',
  })
  @IsOptional()
  @IsUUID('all', { message: 'customerId must be a UUID' })
  customerId?: string;
}

/** One group of a usage report, from the reported side’s point of view. */
export class UsageGroupDto {
  @ApiProperty({
    example: '2025-01-31',
    description: 'The group: an account id, a customer id, a date `YYYY-MM-DD` or a prefix (per `groupBy`).',
  })
  key!: string;
  @ApiProperty({ example: 120, description: 'Rated calls (those of zero duration included).' })
  calls!: number;
  @ApiProperty({ example: 7260, description: 'Their duration, in seconds.' })
  seconds!: number;
  @ApiProperty({ example: 7320, description: 'Seconds billed at the side’s own rates (after free seconds and intervals).' })
  billedSeconds!: number;
  @MoneyProperty({ description: 'What the side charged the parties directly below it.' })
  revenue!: string;
  @MoneyProperty({ description: 'What the side was charged itself for these calls (0 for the root).' })
  cost!: string;
  @MoneyProperty({ description: 'revenue − cost.' })
  margin!: string;
  @ApiProperty({ example: 'USD', description: 'The side’s base currency.' })
  currency!: string;
}

export class UsagePageDto {
  @ApiProperty({ type: String, format: 'date', example: '2025-01-01' })
  from!: string;
  @ApiProperty({ type: String, format: 'date', example: '2025-01-31' })
  to!: string;
  @ApiProperty({ example: 'Europe/Paris', description: 'The caller’s time zone: the days of the range and of `groupBy=day`.' })
  timeZone!: string;
  @ApiProperty({ enum: USAGE_GROUPS })
  groupBy!: UsageGroupBy;
  @ApiProperty({ format: 'uuid', description: 'The customer whose business is reported (the caller, or `customerId`).' })
  customerId!: string;
  @ApiProperty({ example: 'USD', description: 'That customer’s base currency: every amount is in it.' })
  currency!: string;
  @ApiProperty({ type: [UsageGroupDto], description: 'Groups with at least one call, in order of `key`.' })
  items!: UsageGroupDto[];
  @ApiProperty({ type: String, nullable: true })
  nextCursor!: string | null;
}
