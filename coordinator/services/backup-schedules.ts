import type { ServiceDeps } from './service-deps.ts';
import { parseStoredSchedule, type BackupConfigRow } from './backup-config-rows.ts';

/** Arms the schedule of one config on one resource, replacing any job armed before. */
export function armConfigJob(deps: ServiceDeps, config: BackupConfigRow, resourceId: number, lastFiredAt?: string): void {
  armConfigJobs(deps, config, [{ resourceId, lastFiredAt }]);
}

/**
 * Arms the schedule of one config on each of `targets`, replacing any job armed before. The
 * stored schedule is parsed once for all of them.
 */
export function armConfigJobs(deps: ServiceDeps, config: BackupConfigRow, targets: { resourceId: number; lastFiredAt?: string }[]): void {
  if (targets.length === 0) return;
  const schedule = parseStoredSchedule(config);
  deps.scheduler.armMany({
    configId: config.id,
    companyId: config.company_id,
    schedule: schedule.details,
    anchorAt: new Date(schedule.anchorAt),
    targets: targets.map((target) => ({
      resourceId: target.resourceId,
      lastFiredAt: target.lastFiredAt ? new Date(target.lastFiredAt) : undefined,
    })),
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

  const byConfig = new Map<number, { config: BackupConfigRow; targets: { resourceId: number; lastFiredAt?: string }[] }>();
  for (const row of rows) {
    let group = byConfig.get(row.id);
    if (group === undefined) {
      group = { config: row, targets: [] };
      byConfig.set(row.id, group);
    }
    group.targets.push({ resourceId: row.mappedResourceId, lastFiredAt: row.lastFiredAt ?? undefined });
  }
  for (const { config, targets } of byConfig.values()) armConfigJobs(deps, config, targets);
  return rows.length;
}

export async function recordScheduleFired(deps: ServiceDeps, configId: number, resourceId: number, firedAt: Date): Promise<void> {
  await deps.db
    .insertInto('schedule_state')
    .values({ config_id: configId, resource_id: resourceId, last_fired_at: firedAt.toISOString() })
    .onConflict((conflict) => conflict.columns(['config_id', 'resource_id']).doUpdateSet({ last_fired_at: firedAt.toISOString() }))
    .execute();
}
