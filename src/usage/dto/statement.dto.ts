import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, Matches } from 'class-validator';

/** A month of the holder's calendar: YYYY-MM, years 1000–9998. */
export const MONTH_PATTERN = /^(?!9999)[1-9]\d{3}-(0[1-9]|1[0-2])$/;
const MONTH_MESSAGE = 'month must be a month written YYYY-MM, e.g. "2026-03" (years 1000–9998)';

export class StatementQueryDto {
  @ApiPropertyOptional({
    pattern: MONTH_PATTERN.source,
    example: '2026-03',
    description: 'The month, in the holder’s time zone. Default: the current month there.',
  })
  @IsOptional()
  @Matches(MONTH_PATTERN, { message: MONTH_MESSAGE })
  month?: string;
}

export class StatementHolderDto {
  @ApiProperty({ enum: ['customer', 'account'] })
  type!: 'customer' | 'account';
  @ApiProperty({ format: 'uuid' })
  id!: string;
}

/** Σ of the entries' converted amounts per ledger action, signed as on the entries. */
export class StatementTotalsDto {
  @ApiProperty({ example: '0.00' })
  opening_balance!: string;
  @ApiProperty({ example: '50.00' })
  add_funds!: string;
  @ApiProperty({ example: '0.00' })
  credit!: string;
  @ApiProperty({ example: '-5.00', description: 'Negative (debits take money away).' })
  debit!: string;
  @ApiProperty({ example: '-12.34', description: 'Negative: the charges of rated calls.' })
  usage!: string;
}

export class StatementUsageDto {
  @ApiProperty({ example: 42, description: 'Calls charged to the holder in the month (charges of zero make no entry and are not counted).' })
  calls!: number;
  @ApiProperty({ example: 3600, description: 'Their durations, summed, in seconds.' })
  seconds!: number;
}

/** One month of a holder's ledger: opening balance + totals = closing balance. */
export class StatementDto {
  @ApiProperty({ type: StatementHolderDto })
  holder!: StatementHolderDto;
  @ApiProperty({ example: '2026-03' })
  month!: string;
  @ApiProperty({ example: 'Europe/Berlin', description: 'The holder’s time zone: the month’s days are its days.' })
  timeZone!: string;
  @ApiProperty({ example: 'EUR', description: 'The holder’s base currency: every amount is in it.' })
  currency!: string;
  @ApiProperty({ format: 'date-time', example: '2026-02-28T23:00:00.000Z', description: 'The month’s first instant (local midnight of its first day).' })
  from!: string;
  @ApiProperty({ format: 'date-time', example: '2026-03-31T22:00:00.000Z', description: 'The next month’s first instant (excluded).' })
  to!: string;
  @ApiProperty({ example: '100.00', description: 'The balance after the last entry before `from` (0 without one).' })
  openingBalance!: string;
  @ApiProperty({ type: StatementTotalsDto, description: 'Σ of the month’s entries per action (every action present, "0.00" when none).' })
  totals!: StatementTotalsDto;
  @ApiProperty({ type: StatementUsageDto })
  usage!: StatementUsageDto;
  @ApiProperty({ example: '82.66', description: 'The balance after the last entry before `to`: openingBalance + Σ totals.' })
  closingBalance!: string;
}
