/**
 * TypeORM's `query()` answers an UPDATE or DELETE with `[rows, rowCount]` and anything else
 * with the rows; this gives the rows either way (for `UPDATE ... RETURNING`).
 */
export function returnedRows<T>(result: unknown): T[] {
  if (Array.isArray(result) && result.length === 2 && Array.isArray(result[0]) && typeof result[1] === 'number') {
    return result[0] as T[];
  }
  return result as T[];
}

/** Number of rows an UPDATE or DELETE touched. */
export function affectedRows(result: unknown): number {
  if (Array.isArray(result) && result.length === 2 && typeof result[1] === 'number') return result[1];
  return Array.isArray(result) ? result.length : 0;
}

/** The SQLSTATE of a database error (TypeORM wraps pg's error as `driverError`). */
export function sqlState(error: unknown): string | undefined {
  const e = error as { code?: string; driverError?: { code?: string } } | undefined;
  return e?.driverError?.code ?? e?.code;
}

/** A unique violation (23505), of `constraint` when one is named. */
export function isUniqueViolation(error: unknown, constraint?: string): boolean {
  if (sqlState(error) !== '23505') return false;
  if (constraint === undefined) return true;
  const e = error as { constraint?: string; driverError?: { constraint?: string } };
  return (e.driverError?.constraint ?? e.constraint) === constraint;
}

/** Collects positional parameters while a query is composed ($1, $2, ...). */
export class SqlParams {
  readonly values: unknown[] = [];
  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

/** Element types whose text never needs quoting inside an array literal (no comma, brace, quote, space or backslash). */
const PLAIN_ELEMENTS = new Set(['uuid', 'numeric', 'int', 'bigint', 'bool', 'timestamptz']);

/**
 * An array parameter as PostgreSQL's array literal, for set-based statements that carry
 * thousands of values a column (`unnest($1::uuid[], …)`): elements of plain types (ids,
 * decimal strings, numbers, booleans, ISO instants) are joined as they are; text is quoted
 * and escaped. node-postgres would quote and escape every element of every array, which was
 * a large share of a posting's time at thousands of entries. `null`/`undefined` is NULL.
 */
export function arrayLiteral(values: readonly unknown[], type: string): string {
  const plain = PLAIN_ELEMENTS.has(type);
  const parts = new Array<string>(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === null || v === undefined) parts[i] = 'NULL';
    else if (plain) parts[i] = v instanceof Date ? v.toISOString() : String(v);
    else parts[i] = `"${String(v).replace(/[\\"]/g, '\\$&')}"`;
  }
  return `{${parts.join(',')}}`;
}

/**
 * A LIKE/ILIKE pattern that matches `text` literally: `contains` anywhere or as a `prefix`.
 * The default escape character of LIKE is the backslash.
 */
export function likePattern(text: string, match: 'contains' | 'prefix'): string {
  const literal = text.replace(/[\\%_]/g, (ch) => '\\' + ch);
  return match === 'contains' ? `%${literal}%` : `${literal}%`;
}

/**
 * A row count written into a statement's text (LIMIT n) rather than sent as a parameter: for a
 * setting's value (a relay pass, a dispatch step), so that a named prepared statement without
 * parameters is planned once per connection. Only a safe integer ≥ 1 is written; anything else
 * is a programming error.
 */
export function sqlLimit(n: number): string {
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`not a row count: ${n}`);
  return String(n);
}
