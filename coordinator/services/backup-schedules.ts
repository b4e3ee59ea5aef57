import type { ServiceDeps } from './service-deps.ts';
import { parseStoredSchedule, type BackupConfigRow } from './backup-config-rows.ts';

/** Arms the schedule of one config on one resource, replacing any job armed before. */
export function armConfigJob(deps: ServiceDeps, config: BackupConfigRow, resourceId: number, lastFiredAt?: string): void {
  const schedule = parseStoredSchedule(config);
  deps.scheduler.arm({
    configId: config.id,
    companyId: config.company_id,
    resourceId,
    schedule: schedule.details,
    anchorAt: new Date(schedule.anchorAt),
    lastFiredAt: lastFiredAt ? new Date(lastFiredAt) : undefined,
  });
}

/** Re-creates every armed job from the database; runs once at coordinator start. */
export async function rebuildAllJobs(deps: ServiceDeps): Promise<number> {
  const rows = await deps.db
    .selectFrom('backup_configs')
    .innerJoin('resource_config_mappings', 'resource_config_mappings.config_id', 'backup_configs.id')
    .leftJoin('schedule_state', (join) =>
      join
        .onRef('schedule_state.config_id', '=', 'backup_configs.id')
        .onRef('schedule_state.resource_id', '=', 'resource_config_mappings.resource_id'),
    )
    .selectAll('backup_configs')
    .select(['resource_config_mappings.resource_id as mappedResourceId', 'schedule_state.last_fired_at as lastFiredAt'])
    .where('backup_configs.deleted', '=', 0)
    .where('backup_configs.enable', '=', 1)
    .execute();

  for (const row of rows) {
    armConfigJob(deps, row, row.mappedResourceId, row.lastFiredAt ?? undefined);
  }
  return rows.length;
}

export async function recordScheduleFired(deps: ServiceDeps, configId: number, resourceId: number, firedAt: Date): Promise<void> {
  await deps.db
    .insertInto('schedule_state')
    .values({ config_id: configId, resource_id: resourceId, last_fired_at: firedAt.toISOString() })
    .onConflict((conflict) => conflict.columns(['config_id', 'resource_id']).doUpdateSet({ last_fired_at: firedAt.toISOString() }))
    .execute();
}
