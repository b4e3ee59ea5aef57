import type { Generated } from 'kysely';

/** Table types of the coordinator's SQLite database. Times are ISO-8601 strings in UTC. */
export interface Database {
  companies: CompaniesTable;
  users: UsersTable;
  sessions: SessionsTable;
  resources: ResourcesTable;
  backup_configs: BackupConfigsTable;
  resource_config_mappings: ResourceConfigMappingsTable;
  pending_changes: PendingChangesTable;
  runs: RunsTable;
  snapshots: SnapshotsTable;
  blobs: BlobsTable;
  outbox: OutboxTable;
  schedule_state: ScheduleStateTable;
  sync_configs: SyncConfigsTable;
  sync_destinations: SyncDestinationsTable;
  sync_files: SyncFilesTable;
  sync_deliveries: SyncDeliveriesTable;
  sync_conflicts: SyncConflictsTable;
  shares: SharesTable;
}

export interface CompaniesTable {
  id: Generated<number>;
  name: string;
  bucket: string;
  enrollment_secret_hash: string;
  created_at: string;
}

export interface UsersTable {
  id: Generated<number>;
  company_id: number;
  email: string;
  password_hash: string;
  created_at: string;
}

export interface SessionsTable {
  token_hash: string;
  user_id: number;
  created_at: string;
  expires_at: string;
}

export interface ResourcesTable {
  id: Generated<number>;
  company_id: number;
  name: string;
  hostname: string | null;
  platform: string | null;
  token_hash: string;
  online: number;
  last_seen_at: string | null;
  created_at: string;
}

export interface BackupConfigsTable {
  id: Generated<number>;
  company_id: number;
  resource_id: number | null;
  name: string;
  enable: number;
  schedule_json: string;
  include_paths_json: string;
  exclude_paths_json: string;
  deleted: number;
  created_at: string;
  updated_at: string;
}

/** Which config applies to which resource; the original system called it ResourceIdConfigIdMapping. */
export interface ResourceConfigMappingsTable {
  resource_id: number;
  config_id: number;
}

/** Paths seen changed per config and resource since the last committed snapshot. */
export interface PendingChangesTable {
  seq: Generated<number>;
  config_id: number;
  resource_id: number;
  path: string;
  kind: string;
  updated_at: string;
}

export interface RunsTable {
  id: Generated<number>;
  kind: 'backup' | 'restore';
  company_id: number;
  config_id: number;
  resource_id: number;
  status: string;
  trigger: string;
  full: number;
  params_json: string;
  progress_json: string;
  warnings_json: string;
  error: string | null;
  max_change_seq: number | null;
  base_snapshot_id: number | null;
  snapshot_id: number | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
}

export interface SnapshotsTable {
  id: number;
  company_id: number;
  config_id: number;
  resource_id: number;
  parent_id: number | null;
  manifest_key: string;
  files: number;
  bytes: number;
  created_at: string;
}

/** Where each content of a company lives in its bucket. */
export interface BlobsTable {
  company_id: number;
  hash: string;
  object_key: string;
  offset: number;
  length: number;
}

/** Actions for agents, kept until the agent acknowledges them. */
export interface OutboxTable {
  id: Generated<number>;
  resource_id: number;
  kind: string;
  payload_json: string;
  created_at: string;
  delivered_at: string | null;
  acked_at: string | null;
  /** Actions with the same key replace each other while unacknowledged. */
  coalesce_key: string | null;
}

export interface ScheduleStateTable {
  config_id: number;
  resource_id: number;
  last_fired_at: string;
}

export interface SyncConfigsTable {
  id: Generated<number>;
  company_id: number;
  resource_id: number;
  name: string;
  enable: number;
  include_paths_json: string;
  exclude_paths_json: string;
  deleted: number;
  created_at: string;
  updated_at: string;
}

export interface SyncDestinationsTable {
  config_id: number;
  resource_id: number;
  target_dir: string | null;
}

/** The latest state of each path under a sync config's source. */
export interface SyncFilesTable {
  config_id: number;
  path: string;
  version: number;
  type: 'file' | 'dir' | 'symlink' | 'deleted';
  hash: string | null;
  size: number;
  mode: number;
  mtime_ms: number;
  target: string | null;
  updated_at: string;
}

export interface SyncDeliveriesTable {
  config_id: number;
  resource_id: number;
  path: string;
  version: number;
  applied_version: number | null;
  error: string | null;
  updated_at: string;
}

export interface SyncConflictsTable {
  id: Generated<number>;
  config_id: number;
  resource_id: number;
  path: string;
  conflict_path: string;
  created_at: string;
}

export interface SharesTable {
  id: Generated<number>;
  company_id: number;
  resource_id: number;
  file_name: string;
  hash: string;
  size: number;
  target_dir: string | null;
  status: string;
  stored_path: string | null;
  error: string | null;
  created_at: string;
  finished_at: string | null;
}
