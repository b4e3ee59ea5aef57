import { invalidInput } from '../../src/protocol/errors.ts';
import {
  normalizeDestinations,
  type SyncConfig,
  type SyncConfigInput,
  type SyncConfigUpdate,
  type SyncDestination,
} from '../../src/protocol/sync-config.ts';
import { getCompany } from './companies.ts';
import { enqueueAction } from './outbox.ts';
import { getCompanyResource } from './resources.ts';
import { enableFlag } from './enable-flag.ts';
import { nowIso } from './secrets.ts';
import type { ServiceDeps } from './service-deps.ts';
import {
  getCompanySyncConfigRow,
  loadDestinations,
  toAgentSyncConfig,
  toSyncConfigView,
  type SyncConfigRow,
} from './sync-config-rows.ts';
import { fanOutAllTo } from './sync-state.ts';

export async function listSyncConfigs(deps: ServiceDeps, companyId: number): Promise<SyncConfig[]> {
  await getCompany(deps, companyId);
  const rows = await deps.db.selectFrom('sync_configs').selectAll().where('company_id', '=', companyId).where('deleted', '=', 0).orderBy('id').execute();
  const views: SyncConfig[] = [];
  for (const row of rows) views.push(await toSyncConfigView(deps, row));
  return views;
}

/** Checks each destination: a resource of the same company, not the source, listed once. */
async function checkDestinations(deps: ServiceDeps, companyId: number, sourceId: number, destinations: SyncDestination[]): Promise<void> {
  const seen = new Set<number>();
  for (const [index, destination] of destinations.entries()) {
    const field = `destinationResources[${index}]`;
    if (destination.resourceId === sourceId) {
      throw invalidInput(`Field "${field}" (value: ${destination.resourceId}) is the source resource; a resource cannot be its own destination`);
    }
    if (seen.has(destination.resourceId)) {
      throw invalidInput(`Field "${field}" (value: ${destination.resourceId}) lists the same destination twice`);
    }
    seen.add(destination.resourceId);
    await getCompanyResource(deps, companyId, destination.resourceId, field);
  }
}

/** Creates a sync config; the source pushes what is there now and watches from then on. */
export async function createSyncConfig(deps: ServiceDeps, input: SyncConfigInput): Promise<SyncConfig> {
  await getCompany(deps, input.companyId);
  await getCompanyResource(deps, input.companyId, input.resourceId, 'resourceId');
  const destinations = normalizeDestinations(input.destinationResources);
  await checkDestinations(deps, input.companyId, input.resourceId, destinations);

  const now = nowIso();
  const row = await deps.db.transaction().execute(async (trx) => {
    const inserted = await trx
      .insertInto('sync_configs')
      .values({
        company_id: input.companyId,
        resource_id: input.resourceId,
        name: input.name,
        enable: input.enable ? 1 : 0,
        include_paths_json: JSON.stringify(input.pathDetails.includePaths),
        exclude_paths_json: JSON.stringify(input.pathDetails.excludePaths),
        deleted: 0,
        created_at: now,
        updated_at: now,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    await trx
      .insertInto('sync_destinations')
      .values(destinations.map((d) => ({ config_id: inserted.id, resource_id: d.resourceId, target_dir: d.targetDir })))
      .execute();
    return inserted;
  });

  deps.logger.info({ configId: row.id, companyId: row.company_id, resourceId: row.resource_id, destinations: destinations.map((d) => d.resourceId) }, 'sync config created');
  if (row.enable === 1) await enqueueAction(deps, row.resource_id, { kind: 'sync_watch', config: toAgentSyncConfig(row) });
  return toSyncConfigView(deps, row);
}

/**
 * Applies an update. New paths make the source replace its watcher after pushing the newly
 * included files. An added destination receives the current state, and a removed one is owed
 * nothing.
 */
export async function updateSyncConfig(deps: ServiceDeps, companyId: number, update: SyncConfigUpdate): Promise<SyncConfig> {
  const before = await getCompanySyncConfigRow(deps, companyId, update.id);
  if (before.deleted === 1) throw invalidInput(`Sync config ${update.id} is deleted; create a new config instead`);
  if (update.companyId !== undefined && update.companyId !== before.company_id) {
    throw invalidInput(`Field "companyId" (value: ${update.companyId}) cannot change; sync config ${update.id} belongs to company ${before.company_id}`);
  }
  const sourceId = update.resourceId ?? before.resource_id;
  if (sourceId !== before.resource_id) await getCompanyResource(deps, companyId, sourceId, 'resourceId');
  const oldDestinations = await loadDestinations(deps, before.id);
  const newDestinations = update.destinationResources ? normalizeDestinations(update.destinationResources) : oldDestinations;
  await checkDestinations(deps, companyId, sourceId, newDestinations);

  const after = await deps.db
    .updateTable('sync_configs')
    .set({
      name: update.name ?? before.name,
      enable: enableFlag(update.enable, before.enable),
      resource_id: sourceId,
      include_paths_json: update.pathDetails ? JSON.stringify(update.pathDetails.includePaths) : before.include_paths_json,
      exclude_paths_json: update.pathDetails ? JSON.stringify(update.pathDetails.excludePaths) : before.exclude_paths_json,
      updated_at: nowIso(),
    })
    .where('id', '=', before.id)
    .returningAll()
    .executeTakeFirstOrThrow();

  await replaceDestinations(deps, after, oldDestinations, newDestinations);
  await updateSource(deps, before, after);
  deps.logger.info({ configId: after.id, companyId }, 'sync config updated');
  return toSyncConfigView(deps, after);
}

async function updateSource(deps: ServiceDeps, before: SyncConfigRow, after: SyncConfigRow): Promise<void> {
  if (before.resource_id !== after.resource_id || after.enable !== 1) {
    await enqueueAction(deps, before.resource_id, { kind: 'sync_unwatch', configId: before.id });
  }
  if (after.enable === 1) await enqueueAction(deps, after.resource_id, { kind: 'sync_watch', config: toAgentSyncConfig(after) });
  if (before.include_paths_json !== after.include_paths_json) {
    const includes = JSON.parse(after.include_paths_json) as string[];
    const rows = await deps.db.selectFrom('sync_files').select('path').where('config_id', '=', after.id).execute();
    const outside = rows.map((r) => r.path).filter((p) => !includes.some((root) => p === root || p.startsWith(`${root}/`)));
    for (let start = 0; start < outside.length; start += 500) {
      await deps.db.deleteFrom('sync_files').where('config_id', '=', after.id).where('path', 'in', outside.slice(start, start + 500)).execute();
    }
  }
}

async function replaceDestinations(deps: ServiceDeps, config: SyncConfigRow, before: SyncDestination[], after: SyncDestination[]): Promise<void> {
  const same = (a: SyncDestination, b: SyncDestination) => a.resourceId === b.resourceId && a.targetDir === b.targetDir;
  const removed = before.filter((old) => !after.some((d) => same(d, old)));
  const added = after.filter((d) => !before.some((old) => same(d, old)));
  for (const destination of removed) {
    await deps.db.deleteFrom('sync_destinations').where('config_id', '=', config.id).where('resource_id', '=', destination.resourceId).execute();
    await forgetDeliveries(deps, config.id, destination.resourceId);
  }
  for (const destination of added) {
    await deps.db.insertInto('sync_destinations').values({ config_id: config.id, resource_id: destination.resourceId, target_dir: destination.targetDir }).execute();
    if (config.enable === 1) await fanOutAllTo(deps, config, destination);
  }
}

/** Drops what a destination was still owed for a config: its delivery records and queued actions. */
async function forgetDeliveries(deps: ServiceDeps, configId: number, resourceId: number): Promise<void> {
  await deps.db.deleteFrom('sync_deliveries').where('config_id', '=', configId).where('resource_id', '=', resourceId).execute();
  await deps.db
    .updateTable('outbox')
    .set({ acked_at: nowIso() })
    .where('resource_id', '=', resourceId)
    .where('acked_at', 'is', null)
    .where('kind', '=', 'sync_apply')
    .where('payload_json', 'like', `%"configId":${configId},%`)
    .execute();
}

/**
 * Deletes a sync config. It is disabled, the deliveries destinations were still owed are dropped,
 * and every agent involved gets a `sync_unwatch` action. Files already on destinations stay.
 */
export async function deleteSyncConfig(deps: ServiceDeps, companyId: number, configId: number): Promise<SyncConfig> {
  const before = await getCompanySyncConfigRow(deps, companyId, configId);
  const after = await deps.db.updateTable('sync_configs').set({ deleted: 1, enable: 0, updated_at: nowIso() }).where('id', '=', configId).returningAll().executeTakeFirstOrThrow();
  const view = await toSyncConfigView(deps, after);
  if (before.deleted === 0) {
    for (const destination of await loadDestinations(deps, configId)) {
      await forgetDeliveries(deps, configId, destination.resourceId);
      await enqueueAction(deps, destination.resourceId, { kind: 'sync_unwatch', configId });
    }
    await enqueueAction(deps, before.resource_id, { kind: 'sync_unwatch', configId });
  }
  deps.logger.info({ configId, companyId }, 'sync config deleted');
  return view;
}
