import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('companies')
    .addColumn('id', 'integer', (col) => col.primaryKey().autoIncrement())
    .addColumn('name', 'text', (col) => col.notNull())
    .addColumn('bucket', 'text', (col) => col.notNull().unique())
    .addColumn('enrollment_secret_hash', 'text', (col) => col.notNull())
    .addColumn('created_at', 'text', (col) => col.notNull())
    .execute();

  await db.schema
    .createTable('users')
    .addColumn('id', 'integer', (col) => col.primaryKey().autoIncrement())
    .addColumn('company_id', 'integer', (col) => col.notNull().references('companies.id'))
    .addColumn('email', 'text', (col) => col.notNull().unique())
    .addColumn('password_hash', 'text', (col) => col.notNull())
    .addColumn('created_at', 'text', (col) => col.notNull())
    .execute();

  await db.schema
    .createTable('sessions')
    .addColumn('token_hash', 'text', (col) => col.primaryKey())
    .addColumn('user_id', 'integer', (col) => col.notNull().references('users.id'))
    .addColumn('created_at', 'text', (col) => col.notNull())
    .addColumn('expires_at', 'text', (col) => col.notNull())
    .execute();

  await db.schema
    .createTable('resources')
    .addColumn('id', 'integer', (col) => col.primaryKey().autoIncrement())
    .addColumn('company_id', 'integer', (col) => col.notNull().references('companies.id'))
    .addColumn('name', 'text', (col) => col.notNull())
    .addColumn('hostname', 'text')
    .addColumn('platform', 'text')
    .addColumn('token_hash', 'text', (col) => col.notNull().unique())
    .addColumn('online', 'integer', (col) => col.notNull().defaultTo(0))
    .addColumn('last_seen_at', 'text')
    .addColumn('created_at', 'text', (col) => col.notNull())
    .execute();

  await db.schema
    .createTable('backup_configs')
    .addColumn('id', 'integer', (col) => col.primaryKey().autoIncrement())
    .addColumn('company_id', 'integer', (col) => col.notNull().references('companies.id'))
    .addColumn('resource_id', 'integer', (col) => col.references('resources.id'))
    .addColumn('name', 'text', (col) => col.notNull())
    .addColumn('enable', 'integer', (col) => col.notNull())
    .addColumn('schedule_json', 'text', (col) => col.notNull())
    .addColumn('include_paths_json', 'text', (col) => col.notNull())
    .addColumn('exclude_paths_json', 'text', (col) => col.notNull())
    .addColumn('deleted', 'integer', (col) => col.notNull().defaultTo(0))
    .addColumn('created_at', 'text', (col) => col.notNull())
    .addColumn('updated_at', 'text', (col) => col.notNull())
    .execute();

  await db.schema
    .createTable('resource_config_mappings')
    .addColumn('resource_id', 'integer', (col) => col.notNull().references('resources.id'))
    .addColumn('config_id', 'integer', (col) => col.notNull().references('backup_configs.id'))
    .addPrimaryKeyConstraint('resource_config_mappings_pk', ['resource_id', 'config_id'])
    .execute();

  await db.schema
    .createTable('pending_changes')
    .addColumn('seq', 'integer', (col) => col.primaryKey().autoIncrement())
    .addColumn('config_id', 'integer', (col) => col.notNull())
    .addColumn('resource_id', 'integer', (col) => col.notNull())
    .addColumn('path', 'text', (col) => col.notNull())
    .addColumn('kind', 'text', (col) => col.notNull())
    .addColumn('updated_at', 'text', (col) => col.notNull())
    .addUniqueConstraint('pending_changes_path', ['config_id', 'resource_id', 'path'])
    .execute();

  await db.schema
    .createTable('runs')
    .addColumn('id', 'integer', (col) => col.primaryKey().autoIncrement())
    .addColumn('kind', 'text', (col) => col.notNull())
    .addColumn('company_id', 'integer', (col) => col.notNull())
    .addColumn('config_id', 'integer', (col) => col.notNull())
    .addColumn('resource_id', 'integer', (col) => col.notNull())
    .addColumn('status', 'text', (col) => col.notNull())
    .addColumn('trigger', 'text', (col) => col.notNull())
    .addColumn('full', 'integer', (col) => col.notNull().defaultTo(0))
    .addColumn('params_json', 'text', (col) => col.notNull().defaultTo('{}'))
    .addColumn('progress_json', 'text', (col) => col.notNull())
    .addColumn('warnings_json', 'text', (col) => col.notNull().defaultTo('[]'))
    .addColumn('error', 'text')
    .addColumn('max_change_seq', 'integer')
    .addColumn('base_snapshot_id', 'integer')
    .addColumn('snapshot_id', 'integer')
    .addColumn('created_at', 'text', (col) => col.notNull())
    .addColumn('started_at', 'text')
    .addColumn('finished_at', 'text')
    .execute();
  await db.schema.createIndex('runs_by_config').on('runs').columns(['config_id', 'resource_id', 'status']).execute();

  await db.schema
    .createTable('snapshots')
    .addColumn('id', 'integer', (col) => col.primaryKey())
    .addColumn('company_id', 'integer', (col) => col.notNull())
    .addColumn('config_id', 'integer', (col) => col.notNull())
    .addColumn('resource_id', 'integer', (col) => col.notNull())
    .addColumn('parent_id', 'integer')
    .addColumn('manifest_key', 'text', (col) => col.notNull())
    .addColumn('files', 'integer', (col) => col.notNull())
    .addColumn('bytes', 'integer', (col) => col.notNull())
    .addColumn('created_at', 'text', (col) => col.notNull())
    .execute();
  await db.schema.createIndex('snapshots_by_config').on('snapshots').columns(['config_id', 'resource_id', 'id']).execute();

  await db.schema
    .createTable('blobs')
    .addColumn('company_id', 'integer', (col) => col.notNull())
    .addColumn('hash', 'text', (col) => col.notNull())
    .addColumn('object_key', 'text', (col) => col.notNull())
    .addColumn('offset', 'integer', (col) => col.notNull())
    .addColumn('length', 'integer', (col) => col.notNull())
    .addPrimaryKeyConstraint('blobs_pk', ['company_id', 'hash'])
    .execute();

  await db.schema
    .createTable('outbox')
    .addColumn('id', 'integer', (col) => col.primaryKey().autoIncrement())
    .addColumn('resource_id', 'integer', (col) => col.notNull())
    .addColumn('kind', 'text', (col) => col.notNull())
    .addColumn('payload_json', 'text', (col) => col.notNull())
    .addColumn('created_at', 'text', (col) => col.notNull())
    .addColumn('delivered_at', 'text')
    .addColumn('acked_at', 'text')
    .execute();
  await db.schema.createIndex('outbox_unacked').on('outbox').columns(['resource_id', 'acked_at', 'id']).execute();

  await db.schema
    .createTable('schedule_state')
    .addColumn('config_id', 'integer', (col) => col.notNull())
    .addColumn('resource_id', 'integer', (col) => col.notNull())
    .addColumn('last_fired_at', 'text', (col) => col.notNull())
    .addPrimaryKeyConstraint('schedule_state_pk', ['config_id', 'resource_id'])
    .execute();

  await sql`select 1`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of [
    'schedule_state', 'outbox', 'blobs', 'snapshots', 'runs', 'pending_changes',
    'resource_config_mappings', 'backup_configs', 'resources', 'sessions', 'users', 'companies',
  ]) {
    await db.schema.dropTable(table).execute();
  }
}
