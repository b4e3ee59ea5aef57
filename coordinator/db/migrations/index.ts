import type { Migration, MigrationProvider } from 'kysely';
import * as initial from './001-initial.ts';
import * as sync from './002-sync.ts';

/**
 * Lists the migrations in code. Kysely's FileMigrationProvider imports files by path, which fails
 * for `.ts` files under some loaders, so every migration is registered here in order.
 */
export const migrationProvider: MigrationProvider = {
  async getMigrations(): Promise<Record<string, Migration>> {
    return { '001-initial': initial, '002-sync': sync };
  },
};
