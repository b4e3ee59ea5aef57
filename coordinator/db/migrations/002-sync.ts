import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('sync_configs')
    .addColumn('id', 'integer', (col) => col.primaryKey().autoIncrement())
    .addColumn('company_id', 'integer', (col) => col.notNull().references('companies.id'))
    .addColumn('resource_id', 'integer', (col) => col.notNull().references('resources.id'))
    .addColumn('name', 'text', (col) => col.notNull())
    .addColumn('enable', 'integer', (col) => col.notNull())
    .addColumn('include_paths_json', 'text', (col) => col.notNull())
    .addColumn('exclude_paths_json', 'text', (col) => col.notNull())
    .addColumn('deleted', 'integer', (col) => col.notNull().defaultTo(0))
    .addColumn('created_at', 'text', (col) => col.notNull())
    .addColumn('updated_at', 'text', (col) => col.notNull())
    .execute();

  await db.schema
    .createTable('sync_destinations')
    .addColumn('config_id', 'integer', (col) => col.notNull().references('sync_configs.id'))
    .addColumn('resource_id', 'integer', (col) => col.notNull().references('resources.id'))
    .addColumn('target_dir', 'text')
    .addPrimaryKeyConstraint('sync_destinations_pk', ['config_id', 'resource_id'])
    .execute();

  // The latest known state of each source path; destinations converge to it.
  await db.schema
    .createTable('sync_files')
    .addColumn('config_id', 'integer', (col) => col.notNull())
    .addColumn('path', 'text', (col) => col.notNull())
    .addColumn('version', 'integer', (col) => col.notNull())
    .addColumn('type', 'text', (col) => col.notNull())
    .addColumn('hash', 'text')
    .addColumn('size', 'integer', (col) => col.notNull())
    .addColumn('mode', 'integer', (col) => col.notNull())
    .addColumn('mtime_ms', 'real', (col) => col.notNull())
    .addColumn('target', 'text')
    .addColumn('updated_at', 'text', (col) => col.notNull())
    .addPrimaryKeyConstraint('sync_files_pk', ['config_id', 'path'])
    .execute();

  // What each destination last applied, or failed to apply, per path.
  await db.schema
    .createTable('sync_deliveries')
    .addColumn('config_id', 'integer', (col) => col.notNull())
    .addColumn('resource_id', 'integer', (col) => col.notNull())
    .addColumn('path', 'text', (col) => col.notNull())
    .addColumn('version', 'integer', (col) => col.notNull())
    .addColumn('applied_version', 'integer')
    .addColumn('error', 'text')
    .addColumn('updated_at', 'text', (col) => col.notNull())
    .addPrimaryKeyConstraint('sync_deliveries_pk', ['config_id', 'resource_id', 'path'])
    .execute();

  await db.schema
    .createTable('sync_conflicts')
    .addColumn('id', 'integer', (col) => col.primaryKey().autoIncrement())
    .addColumn('config_id', 'integer', (col) => col.notNull())
    .addColumn('resource_id', 'integer', (col) => col.notNull())
    .addColumn('path', 'text', (col) => col.notNull())
    .addColumn('conflict_path', 'text', (col) => col.notNull())
    .addColumn('created_at', 'text', (col) => col.notNull())
    .execute();

  await db.schema
    .createTable('shares')
    .addColumn('id', 'integer', (col) => col.primaryKey().autoIncrement())
    .addColumn('company_id', 'integer', (col) => col.notNull())
    .addColumn('resource_id', 'integer', (col) => col.notNull())
    .addColumn('file_name', 'text', (col) => col.notNull())
    .addColumn('hash', 'text', (col) => col.notNull())
    .addColumn('size', 'integer', (col) => col.notNull())
    .addColumn('target_dir', 'text')
    .addColumn('status', 'text', (col) => col.notNull())
    .addColumn('stored_path', 'text')
    .addColumn('error', 'text')
    .addColumn('created_at', 'text', (col) => col.notNull())
    .addColumn('finished_at', 'text')
    .execute();

  // Lets a newer action replace an older one that was never acknowledged (same key).
  await db.schema.alterTable('outbox').addColumn('coalesce_key', 'text').execute();
  await db.schema.createIndex('outbox_coalesce').on('outbox').columns(['resource_id', 'coalesce_key']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('outbox_coalesce').execute();
  await db.schema.alterTable('outbox').dropColumn('coalesce_key').execute();
  for (const table of ['shares', 'sync_conflicts', 'sync_deliveries', 'sync_files', 'sync_destinations', 'sync_configs']) {
    await db.schema.dropTable(table).execute();
  }
}
