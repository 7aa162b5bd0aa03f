import { ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import { ValidationProblem } from './problem/problem';

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 200;

export class PageQueryDto {
  @ApiPropertyOptional({ minimum: 1, maximum: MAX_PAGE_SIZE, default: DEFAULT_PAGE_SIZE })
  @IsOptional()
  // Digits only: Number() would also take '1e2', '0x10' or ' 7 '.
  @Transform(({ value }) => (typeof value === 'string' && /^\d{1,9}$/.test(value) ? Number(value) : value))
  @IsInt()
  @Min(1)
  @Max(MAX_PAGE_SIZE)
  limit?: number;

  @ApiPropertyOptional({ description: 'Opaque cursor from a previous page’s `nextCursor`.' })
  @IsOptional()
  @IsString()
  @MaxLength(512)
  cursor?: string;
}

/** Cursors are opaque to clients: base64url of a small JSON array of sort-key values. */
export function encodeCursor(values: unknown[]): string {
  return Buffer.from(JSON.stringify(values)).toString('base64url');
}

/**
 * What a cursor position holds. `uuid` and `timestamp` are checked here so that a forged
 * cursor is a 400, not a failed cast in SQL.
 */
export type CursorField = 'string' | 'number' | 'uuid' | 'timestamp';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$/;

function fits(value: unknown, field: CursorField): boolean {
  switch (field) {
    case 'uuid':
      return typeof value === 'string' && UUID.test(value);
    case 'timestamp': {
      if (typeof value !== 'string' || !TIMESTAMP.test(value)) return false;
      const parsed = new Date(value);
      return !Number.isNaN(parsed.getTime()) && parsed.toISOString().slice(0, 19) === value.slice(0, 19);
    }
    default:
      return typeof value === field;
  }
}

/**
 * A timestamptz column as a cursor value, to the microsecond: a JS Date keeps milliseconds
 * only, and a truncated value would make the next page start with the last row again.
 */
export function cursorTimestamp(column: string): string {
  return `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
}

export function decodeCursor<T extends unknown[]>(cursor: string | undefined, shape: CursorField[]): T | undefined {
  if (cursor === undefined) return undefined;
  try {
    const values = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(values) && values.length === shape.length && values.every((v, i) => fits(v, shape[i]))) {
      return values as T;
    }
  } catch {
    /* fall through */
  }
  throw new ValidationProblem([{ parameter: 'cursor', detail: 'cursor is not a cursor this list issued' }]);
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** Takes limit+1 rows and turns them into a page whose cursor is built from the last item. */
export function toPage<R, T>(rows: R[], limit: number, map: (row: R) => T, cursorOf: (row: R) => unknown[]): Page<T> {
  const hasMore = rows.length > limit;
  const pageRows = hasMore ? rows.slice(0, limit) : rows;
  return {
    items: pageRows.map(map),
    nextCursor: hasMore ? encodeCursor(cursorOf(pageRows[pageRows.length - 1])) : null,
  };
}
