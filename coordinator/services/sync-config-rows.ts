import type { Selectable } from 'kysely';
import { notFound } from '../../src/protocol/errors.ts';
import type { AgentSyncConfig } from '../../src/protocol/actions.ts';
import type { SyncConfig, SyncDestination } from '../../src/protocol/sync-config.ts';
import type { SyncConfigsTable } from '../db/schema.ts';
import type { ServiceDeps } from './service-deps.ts';

export type SyncConfigRow = Selectable<SyncConfigsTable>;

export async function loadSyncConfigRow(deps: ServiceDeps, configId: number): Promise<SyncConfigRow> {
  const row = await deps.db.selectFrom('sync_configs').selectAll().where('id', '=', configId).executeTakeFirst();
  if (!row) throw notFound(`Sync config ${configId} not found; list configs with "syncctl sync list"`);
  return row;
}

export async function getCompanySyncConfigRow(deps: ServiceDeps, companyId: number, configId: number): Promise<SyncConfigRow> {
  const row = await loadSyncConfigRow(deps, configId);
  if (row.company_id !== companyId) {
    throw notFound(`Sync config ${configId} not found in company ${companyId}; list configs with "syncctl sync list"`);
  }
  return row;
}

export async function loadDestinations(deps: ServiceDeps, configId: number): Promise<SyncDestination[]> {
  const rows = await deps.db
    .selectFrom('sync_destinations')
    .select(['resource_id', 'target_dir'])
    .where('config_id', '=', configId)
    .orderBy('resource_id')
    .execute();
  return rows.map((row) => ({ resourceId: row.resource_id, targetDir: row.target_dir }));
}

export function includePathsOf(row: SyncConfigRow): string[] {
  return JSON.parse(row.include_paths_json) as string[];
}

export async function toSyncConfigView(deps: ServiceDeps, row: SyncConfigRow): Promise<SyncConfig> {
  const destinations = await loadDestinations(deps, row.id);
  return {
    id: row.id,
    name: row.name,
    enable: row.enable === 1,
    companyId: row.company_id,
    resourceId: row.resource_id,
    pathDetails: { includePaths: includePathsOf(row), excludePaths: JSON.parse(row.exclude_paths_json) as string[] },
    destinationResources: destinations.map((d) => d.resourceId),
    destinations,
    deleted: row.deleted === 1,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export function toAgentSyncConfig(row: SyncConfigRow): AgentSyncConfig {
  return {
    id: row.id,
    name: row.name,
    includePaths: includePathsOf(row),
    excludePaths: JSON.parse(row.exclude_paths_json) as string[],
  };
}

/** Enabled sync configs whose source is `resourceId`. */
export async function syncConfigsOfSource(deps: ServiceDeps, resourceId: number): Promise<AgentSyncConfig[]> {
  const rows = await deps.db
    .selectFrom('sync_configs')
    .selectAll()
    .where('resource_id', '=', resourceId)
    .where('deleted', '=', 0)
    .where('enable', '=', 1)
    .orderBy('id')
    .execute();
  return rows.map(toAgentSyncConfig);
}
