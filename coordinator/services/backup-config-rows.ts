import type { Selectable } from 'kysely';
import { notFound } from '../../src/protocol/errors.ts';
import type { AgentBackupConfig } from '../../src/protocol/actions.ts';
import type { BackupConfig, ScheduleDetails } from '../../src/protocol/backup-config.ts';
import type { BackupConfigsTable } from '../db/schema.ts';
import type { ServiceDeps } from './service-deps.ts';

export type BackupConfigRow = Selectable<BackupConfigsTable>;

/** What `schedule_json` holds: the schedule and the instant its intervals count from. */
export interface StoredSchedule {
  details: ScheduleDetails;
  anchorAt: string;
}

export function parseStoredSchedule(row: BackupConfigRow): StoredSchedule {
  return JSON.parse(row.schedule_json) as StoredSchedule;
}

export async function loadConfigRow(deps: ServiceDeps, configId: number): Promise<BackupConfigRow> {
  const row = await deps.db.selectFrom('backup_configs').selectAll().where('id', '=', configId).executeTakeFirst();
  if (!row) throw notFound(`Backup config ${configId} not found; list configs with "syncctl backup list"`);
  return row;
}

export function toConfigView(row: BackupConfigRow): BackupConfig {
  return {
    id: row.id,
    name: row.name,
    enable: row.enable === 1,
    companyId: row.company_id,
    resourceId: row.resource_id,
    scheduleDetails: parseStoredSchedule(row).details,
    pathDetails: {
      includePaths: JSON.parse(row.include_paths_json) as string[],
      excludePaths: JSON.parse(row.exclude_paths_json) as string[],
    },
    deleted: row.deleted === 1,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export async function latestSnapshotId(deps: ServiceDeps, configId: number, resourceId: number): Promise<number | null> {
  const row = await deps.db
    .selectFrom('snapshots')
    .select('id')
    .where('config_id', '=', configId)
    .where('resource_id', '=', resourceId)
    .orderBy('id', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row ? row.id : null;
}

/** Looks up the latest snapshot id of a config on each resource that has a snapshot of it. */
export async function latestSnapshotIds(deps: ServiceDeps, configId: number): Promise<Map<number, number>> {
  const rows = await deps.db
    .selectFrom('snapshots')
    .select((eb) => ['resource_id', eb.fn.max('id').as('id')])
    .where('config_id', '=', configId)
    .groupBy('resource_id')
    .execute();
  return new Map(rows.map((row) => [row.resource_id, Number(row.id)]));
}

export async function toAgentConfig(deps: ServiceDeps, row: BackupConfigRow, resourceId: number): Promise<AgentBackupConfig> {
  return { ...toAgentConfigBase(row), lastSnapshotId: await latestSnapshotId(deps, row.id, resourceId) };
}

/**
 * Builds the agent's view of a config for each resource with one query for the latest snapshots,
 * so a company-wide config costs the same few queries on any number of resources.
 */
export async function toAgentConfigs(deps: ServiceDeps, row: BackupConfigRow, resourceIds: readonly number[]): Promise<Map<number, AgentBackupConfig>> {
  const base = toAgentConfigBase(row);
  const latest = resourceIds.length === 0 ? new Map<number, number>() : await latestSnapshotIds(deps, row.id);
  return new Map(resourceIds.map((resourceId) => [resourceId, { ...base, lastSnapshotId: latest.get(resourceId) ?? null }]));
}

function toAgentConfigBase(row: BackupConfigRow): Omit<AgentBackupConfig, 'lastSnapshotId'> {
  return {
    id: row.id,
    name: row.name,
    companyId: row.company_id,
    includePaths: JSON.parse(row.include_paths_json) as string[],
    excludePaths: JSON.parse(row.exclude_paths_json) as string[],
  };
}
