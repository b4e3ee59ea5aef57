/**
 * Bound parameters that one statement may hold: SQLITE_MAX_VARIABLE_NUMBER, 32766 by default since
 * SQLite 3.32 and in the SQLite 3.53 that better-sqlite3 12.11 bundles. A statement with more
 * fails with "too many SQL variables".
 */
export const maxBoundParameters = 32766;

/** Rows of `columns` bound values each that fit in one multi-row statement. */
export function rowsPerStatement(columns: number): number {
  return Math.max(1, Math.floor(maxBoundParameters / columns));
}

/** Splits `items` into consecutive slices of at most `size` items. */
export function chunks<T>(items: readonly T[], size: number): T[][] {
  const result: T[][] = [];
  for (let start = 0; start < items.length; start += size) result.push(items.slice(start, start + size));
  return result;
}

/**
 * Orders the rows that one multi-row INSERT ... RETURNING produced like the VALUES it inserted.
 * SQLite assigns the rows of one INSERT ascending ids in VALUES order, but it documents no order
 * for RETURNING, so the rows are sorted by id. Each row is then checked against
 * `expectedResourceIds`, and a mismatch throws, which rolls back the caller's transaction.
 */
export function inInsertOrder<Row extends { id: number; resource_id: number }>(rows: Row[], expectedResourceIds: readonly number[], table: string): Row[] {
  if (rows.length !== expectedResourceIds.length) {
    throw new Error(`Insert into ${table} returned ${rows.length} rows for ${expectedResourceIds.length} values`);
  }
  const sorted = [...rows].sort((a, b) => a.id - b.id);
  sorted.forEach((row, index) => {
    if (row.resource_id !== expectedResourceIds[index]) {
      throw new Error(`Row ${row.id} of ${table} belongs to resource ${row.resource_id}, expected resource ${expectedResourceIds[index]}`);
    }
  });
  return sorted;
}
