import fs from 'node:fs/promises';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect } from 'kysely';
import type { Database } from './schema.ts';
import { migrationProvider } from './migrations/index.ts';
import { withStatementCache } from './statement-cache.ts';

export type Db = Kysely<Database>;

/** Opens (creating if needed) the coordinator's SQLite file in WAL mode and applies migrations. */
export async function openDatabase(dataDir: string): Promise<Db> {
  const filePath = path.join(dataDir, 'syncctl.sqlite');
  // SQLite gives its -wal and -shm files the mode of the database file: 0600, because it contains password hashes.
  await fs.writeFile(filePath, '', { flag: 'a', mode: 0o600 });
  await fs.chmod(filePath, 0o600);
  const file = new SQLite(filePath);
  file.pragma('journal_mode = WAL');
  file.pragma('synchronous = NORMAL');
  file.pragma('foreign_keys = ON');
  file.pragma('busy_timeout = 5000');

  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(file) }) });
  await migrateToLatest(db);
  return db;
}

async function migrateToLatest(db: Db): Promise<void> {
  const migrator = new Migrator({ db, provider: migrationProvider });
  const { error, results } = await migrator.migrateToLatest();
  if (error === undefined) return;

  const failed = results?.find((result) => result.status === 'Error');
  const name = failed ? failed.migrationName : 'unknown';
  throw new Error(`Database migration "${name}" failed: ${(error as Error).message ?? String(error)}`);
}
