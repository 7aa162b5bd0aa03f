import { Global, Injectable, Module } from '@nestjs/common';
import { ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { JwtSecret } from '../auth/jwt-secret';
import { SystemSecretsRepository } from '../auth/system-secrets.repository';
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

  @ApiPropertyOptional({
    description: 'Opaque cursor from a previous page’s `nextCursor` of the same list; anything else is a 400.',
    maxLength: 512,
  })
  @IsOptional()
  @IsString()
  @MaxLength(512)
  cursor?: string;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/**
 * What a cursor position holds. Cursors are authenticated, so these checks only guard
 * against the server's own mistakes (a cursor whose shape changed between releases).
 */
export type CursorField = 'string' | 'number' | 'uuid' | 'timestamp' | 'bigint' | 'decimal';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$/;
const BIGINT_MAX = 9223372036854775807n;

function fits(value: unknown, field: CursorField): boolean {
  switch (field) {
    case 'uuid':
      return typeof value === 'string' && UUID.test(value);
    case 'timestamp': {
      if (typeof value !== 'string' || !TIMESTAMP.test(value)) return false;
      const parsed = new Date(value);
      return !Number.isNaN(parsed.getTime()) && parsed.toISOString().slice(0, 19) === value.slice(0, 19);
    }
    case 'bigint':
      return typeof value === 'string' && /^\d{1,19}$/.test(value) && BigInt(value) <= BIGINT_MAX;
    case 'decimal':
      return typeof value === 'string' && /^-?\d{1,38}(\.\d{1,8})?$/.test(value);
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

const VERSION = 1;
const IV_BYTES = 12;
/** IVs drawn from the system's CSPRNG 1,024 at a time (one getrandom call was a third of a cursor's cost). */
const IV_BATCH = 1024;
let ivs: Buffer = Buffer.alloc(0);
let nextIv = 0;

/** A fresh random IV: the next unused 12 bytes of a batch of random bytes (a new batch when used up, never reused). */
function freshIv(): Buffer {
  if (nextIv + IV_BYTES > ivs.length) {
    ivs = randomBytes(IV_BYTES * IV_BATCH);
    nextIv = 0;
  }
  const iv = ivs.subarray(nextIv, nextIv + IV_BYTES);
  nextIv += IV_BYTES;
  return iv;
}
const TAG_BYTES = 16;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

const notIssued = () => new ValidationProblem([{ parameter: 'cursor', detail: 'cursor is not a cursor this list issued' }]);

/**
 * The one place cursors are made and read (SPEC §11: opaque, tamper-evident, revealing nothing).
 *
 * A cursor is base64url(version ‖ iv ‖ AES-256-GCM(JSON of the sort-key values) ‖ tag), with the
 * list it belongs to (e.g. `ledger:account:<id>`) as additional authenticated data. The key is
 * derived (HKDF-SHA256) from the JWT secret, so every instance on one database agrees on it;
 * changing the JWT secret invalidates outstanding cursors (a 400, then start from page one).
 * Anything not issued by the server for that list — random text, a bit flipped, a cursor of
 * another list — fails authentication and is a 400 naming `cursor`, never reaches SQL.
 */
@Injectable()
export class Cursors {
  private key?: Promise<Buffer>;

  constructor(private readonly secret: JwtSecret) {}

  private cipherKey(): Promise<Buffer> {
    this.key ??= this.secret.get().then((s) => Buffer.from(hkdfSync('sha256', s, 'canopy', 'canopy cursor v1', 32)));
    return this.key;
  }

  async encode(list: string, values: unknown[]): Promise<string> {
    const iv = freshIv();
    const cipher = createCipheriv('aes-256-gcm', await this.cipherKey(), iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(list));
    const body = Buffer.concat([cipher.update(JSON.stringify(values), 'utf8'), cipher.final()]);
    return Buffer.concat([Buffer.of(VERSION), iv, body, cipher.getAuthTag()]).toString('base64url');
  }

  /** The sort-key values of a cursor this list issued; undefined without one; else a 400. */
  async decode<T extends unknown[]>(list: string, cursor: string | undefined, shape: CursorField[]): Promise<T | undefined> {
    if (cursor === undefined) return undefined;
    if (!BASE64URL.test(cursor)) throw notIssued();
    const raw = Buffer.from(cursor, 'base64url');
    if (raw.length <= 1 + IV_BYTES + TAG_BYTES || raw[0] !== VERSION) throw notIssued();
    let values: unknown;
    try {
      const decipher = createDecipheriv('aes-256-gcm', await this.cipherKey(), raw.subarray(1, 1 + IV_BYTES), { authTagLength: TAG_BYTES });
      decipher.setAAD(Buffer.from(list));
      decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
      const plain = Buffer.concat([decipher.update(raw.subarray(1 + IV_BYTES, raw.length - TAG_BYTES)), decipher.final()]);
      values = JSON.parse(plain.toString('utf8'));
    } catch {
      throw notIssued();
    }
    if (Array.isArray(values) && values.length === shape.length && values.every((v, i) => fits(v, shape[i]))) return values as T;
    throw notIssued();
  }

  /** Takes limit+1 rows and turns them into a page whose cursor is built from the last item. */
  async page<R, T>(list: string, rows: R[], limit: number, map: (row: R) => T, cursorOf: (row: R) => unknown[]): Promise<Page<T>> {
    const hasMore = rows.length > limit;
    const pageRows = hasMore ? rows.slice(0, limit) : rows;
    return {
      items: pageRows.map(map),
      nextCursor: hasMore ? await this.encode(list, cursorOf(pageRows[pageRows.length - 1])) : null,
    };
  }

  /**
   * A page of a list held in memory in a fixed order (reference data, the permission
   * catalogue), each item with a unique key: the cursor holds the last key seen.
   */
  async pageOf<T>(list: string, items: readonly T[], keyOf: (item: T) => string, limit: number, cursor?: string): Promise<Page<T>> {
    const after = await this.decode<[string]>(list, cursor, ['string']);
    const start = after ? items.findIndex((item) => keyOf(item) === after[0]) + 1 : 0;
    if (after && start === 0) throw notIssued();
    return this.page(list, items.slice(start, start + limit + 1), limit, (item) => item, (item) => [keyOf(item)]);
  }
}

/** Provides `Cursors` (and the JWT secret its key comes from) to every module. */
@Global()
@Module({ providers: [SystemSecretsRepository, JwtSecret, Cursors], exports: [JwtSecret, Cursors] })
export class PaginationModule {}
