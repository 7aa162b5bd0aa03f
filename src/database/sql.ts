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
