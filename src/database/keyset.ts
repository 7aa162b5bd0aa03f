import { Cursors, CursorField, cursorTimestamp, Page } from '../common/pagination';
import { SqlParams } from './sql';

/** One column of a list's sort key, in order; the last ones must make the key unique (e.g. the id). */
export interface KeyColumn {
  /** The SQL expression sorted on, e.g. `t.created_at`. */
  sql: string;
  type: KeyType;
}

/** Key values travel as text (numbers too: numeric and bigint never pass through a JS number). */
export type KeyType = Exclude<CursorField, 'number'>;

const CAST: Record<KeyType, string> = { string: 'text', uuid: 'uuid', timestamp: 'timestamptz', bigint: 'bigint', decimal: 'numeric' };

/** How a key value is read back from a row, as text that survives the cursor unchanged. */
function asText(column: KeyColumn): string {
  switch (column.type) {
    case 'timestamp':
      return cursorTimestamp(column.sql); // to the microsecond; a JS Date would drop them
    case 'string':
      return column.sql;
    default:
      return `${column.sql}::text`;
  }
}

/**
 * THE keyset pager (SPEC §11): a list names its ordered key columns once; this writes the
 * SELECT extras, the WHERE tuple after a cursor, the ORDER BY and LIMIT, and issues and
 * checks the list's opaque, tamper-evident cursor. Rows must be fetched with `select()`.
 */
export class Keyset {
  constructor(
    /** The list the cursor belongs to (its authenticated data), e.g. `ledger:account:<id>`. */
    readonly list: string,
    readonly columns: readonly KeyColumn[],
    readonly direction: 'asc' | 'desc' = 'asc',
  ) {}

  /** Extra SELECT items (prefix them with a comma) carrying the key values of each row. */
  select(): string {
    return this.columns.map((c, i) => `${asText(c)} AS keyset_${i}`).join(', ');
  }

  /**
   * The key columns `select()` added, read again from the subquery `alias` that selected them:
   * a page read first and its rows joined after (rendering only the page's rows).
   */
  carried(alias: string): string {
    return this.columns.map((_, i) => `${alias}.keyset_${i}`).join(', ');
  }

  /** The condition "after the cursor" (undefined without a cursor); a cursor not issued for this list is a 400. */
  async after(cursors: Cursors, cursor: string | undefined, params: SqlParams): Promise<string | undefined> {
    const values = await this.position(cursors, cursor);
    return values && this.condition(values, params);
  }

  /** The key values a cursor holds (undefined without a cursor); a cursor not issued for this list is a 400. */
  position(cursors: Cursors, cursor: string | undefined): Promise<string[] | undefined> {
    return cursors.decode<string[]>(this.list, cursor, this.columns.map((c) => c.type));
  }

  /** The condition "after the key values" of a position. */
  condition(values: readonly string[], params: SqlParams): string {
    const left = this.columns.map((c) => c.sql).join(', ');
    const right = values.map((v, i) => `${params.add(v)}::${CAST[this.columns[i].type]}`).join(', ');
    return `(${left}) ${this.direction === 'asc' ? '>' : '<'} (${right})`;
  }

  /** ORDER BY … LIMIT limit+1 (the extra row tells whether there is a next page). */
  orderAndLimit(limit: number, params: SqlParams): string {
    const order = this.columns.map((c) => `${c.sql} ${this.direction === 'asc' ? 'ASC' : 'DESC'}`).join(', ');
    return `ORDER BY ${order} LIMIT ${params.add(limit + 1)}`;
  }

  /** The page of `rows` (fetched with limit+1), its cursor built from the last row's key. */
  page<R, T>(cursors: Cursors, rows: R[], limit: number, map: (row: R) => T): Promise<Page<T>> {
    const keyOf = (row: R) => this.columns.map((_, i) => (row as Record<string, unknown>)[`keyset_${i}`]);
    return cursors.page(this.list, rows, limit, map, keyOf);
  }
}
