import type { ServiceDeps } from './service-deps.ts';
import { getCompanySyncConfigRow, loadDestinations } from './sync-config-rows.ts';

export interface DestinationStatus {
  resourceId: number;
  online: boolean;
  inSync: boolean;
  pending: number;
  lastError: string | null;
  conflicts: { path: string; conflictPath: string; createdAt: string }[];
}

/** Reports, per destination, how many paths it still owes, its last error and its conflicts. */
export async function syncStatus(deps: ServiceDeps, companyId: number, configId: number): Promise<{ configId: number; destinations: DestinationStatus[] }> {
  const config = await getCompanySyncConfigRow(deps, companyId, configId);
  const result: DestinationStatus[] = [];
  for (const destination of await loadDestinations(deps, config.id)) {
    const deliveries = await deps.db
      .selectFrom('sync_deliveries')
      .select(['version', 'applied_version', 'error', 'updated_at'])
      .where('config_id', '=', config.id)
      .where('resource_id', '=', destination.resourceId)
      .execute();
    const pending = deliveries.filter((d) => d.applied_version === null || d.applied_version < d.version).length;
    const failed = deliveries.filter((d) => d.error !== null).sort((a, b) => b.updated_at.localeCompare(a.updated_at));
    const conflicts = await deps.db
      .selectFrom('sync_conflicts')
      .select(['path', 'conflict_path', 'created_at'])
      .where('config_id', '=', config.id)
      .where('resource_id', '=', destination.resourceId)
      .orderBy('id')
      .execute();
    const resource = await deps.db.selectFrom('resources').select('online').where('id', '=', destination.resourceId).executeTakeFirst();
    result.push({
      resourceId: destination.resourceId,
      online: resource?.online === 1,
      inSync: pending === 0,
      pending,
      lastError: failed[0]?.error ?? null,
      conflicts: conflicts.map((c) => ({ path: c.path, conflictPath: c.conflict_path, createdAt: c.created_at })),
    });
  }
  return { configId: config.id, destinations: result };
}
