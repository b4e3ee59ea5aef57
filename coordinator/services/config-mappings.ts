import { chunks, rowsPerStatement } from '../db/batches.ts';
import type { ServiceDeps } from './service-deps.ts';
import { armConfigJob } from './backup-schedules.ts';
import { enqueueAction } from './outbox.ts';
import { toAgentConfig, loadConfigRow } from './backup-config-rows.ts';

/** Resource ids a backup config applies to. */
export async function mappedResourceIds(deps: ServiceDeps, configId: number): Promise<number[]> {
  const rows = await deps.db
    .selectFrom('resource_config_mappings')
    .select('resource_id')
    .where('config_id', '=', configId)
    .orderBy('resource_id')
    .execute();
  return rows.map((row) => row.resource_id);
}

/** The resources a config should apply to: its own resource, or every resource of its company. */
export async function targetResourceIds(deps: ServiceDeps, companyId: number, resourceId: number | null): Promise<number[]> {
  if (resourceId !== null) return [resourceId];
  const rows = await deps.db.selectFrom('resources').select('id').where('company_id', '=', companyId).orderBy('id').execute();
  return rows.map((row) => row.id);
}

/** Maps a config to resources in one transaction and keeps any mapping that exists already. */
export async function addMappings(deps: ServiceDeps, configId: number, resourceIds: number[]): Promise<void> {
  if (resourceIds.length === 0) return;
  await deps.db.transaction().execute(async (trx) => {
    for (const batch of chunks(resourceIds, rowsPerStatement(2))) {
      await trx
        .insertInto('resource_config_mappings')
        .values(batch.map((resourceId) => ({ resource_id: resourceId, config_id: configId })))
        .onConflict((conflict) => conflict.doNothing())
        .execute();
    }
  });
}

export async function removeMappings(deps: ServiceDeps, configId: number, resourceIds: number[]): Promise<void> {
  if (resourceIds.length === 0) return;
  await deps.db.transaction().execute(async (trx) => {
    // One parameter is the config id.
    for (const batch of chunks(resourceIds, rowsPerStatement(1) - 1)) {
      await trx.deleteFrom('resource_config_mappings').where('config_id', '=', configId).where('resource_id', 'in', batch).execute();
    }
  });
}

/** Applies every live company-wide config to a newly enrolled resource. */
export async function attachCompanyWideConfigs(deps: ServiceDeps, companyId: number, resourceId: number): Promise<void> {
  const rows = await deps.db
    .selectFrom('backup_configs')
    .select('id')
    .where('company_id', '=', companyId)
    .where('resource_id', 'is', null)
    .where('deleted', '=', 0)
    .execute();

  for (const { id } of rows) {
    await addMappings(deps, id, [resourceId]);
    const config = await loadConfigRow(deps, id);
    if (config.enable !== 1) continue;
    armConfigJob(deps, config, resourceId);
    await enqueueAction(deps, resourceId, { kind: 'add_config', config: await toAgentConfig(deps, config, resourceId) });
    deps.logger.info({ configId: id, resourceId, companyId }, 'company-wide config applied to new resource');
  }
}
