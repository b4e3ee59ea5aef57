import type SQLite from 'better-sqlite3';
import type { SqliteDatabase, SqliteStatement } from 'kysely';

/** Prepared statements kept per database connection, least recently used dropped first. */
const maxCachedStatements = 256;

/**
 * Wraps a better-sqlite3 connection for kysely's SqliteDialect so that each distinct SQL text is
 * prepared once. Kysely prepares every query anew, and preparing took about as long as running
 * the coordinator's short queries, more for the long `IN (...)` lists of blob lookups.
 *
 * A cached statement is never used by two queries at once, because kysely's SQLite driver locks
 * its single connection for each query, and for a streamed query until its iteration ends.
 * SQLite re-prepares a statement by itself when a migration changes the schema.
 */
export function withStatementCache(database: SQLite.Database): SqliteDatabase {
  const cache = new Map<string, SqliteStatement>();
  return {
    close: () => {
      cache.clear();
      database.close();
    },
    prepare: (sql: string): SqliteStatement => {
      const cached = cache.get(sql);
      if (cached !== undefined) {
        // Map keeps insertion order, so re-inserting marks the statement most recently used.
        cache.delete(sql);
        cache.set(sql, cached);
        return cached;
      }
      const statement = database.prepare(sql) as unknown as SqliteStatement;
      cache.set(sql, statement);
      if (cache.size > maxCachedStatements) cache.delete(cache.keys().next().value!);
      return statement;
    },
  };
}
