import { setImmediate as nextTurn } from 'node:timers/promises';
import { invalidInput, notFound } from '../../src/protocol/errors.ts';
import type { BackupConfig, BackupConfigInput, BackupConfigUpdate, PathDetails } from '../../src/protocol/backup-config.ts';
import { getCompany } from './companies.ts';
import { getCompanyResource } from './resources.ts';
import { enableFlag } from './enable-flag.ts';
import { nowIso } from './secrets.ts';
import type { ServiceDeps } from './service-deps.ts';
import { chunks } from '../db/batches.ts';
import { loadConfigRow, toAgentConfigs, toConfigView, type BackupConfigRow, type StoredSchedule } from './backup-config-rows.ts';
import { addMappings, mappedResourceIds, removeMappings, targetResourceIds } from './config-mappings.ts';
import { armConfigJobs } from './backup-schedules.ts';
import { deliverActions, enqueueActions, insertActions, type StoredAction } from './outbox.ts';
import { recordPendingChanges, clearPendingChanges } from './pending-changes.ts';
import { cancelQueuedRuns } from './backup-runs.ts';
import { queueBackupRuns } from './backup-run-batches.ts';

/**
 * Resources per transaction when a config is applied to many. Each chunk's actions are handed
 * to the relay as soon as the chunk commits, and the event loop gets a turn between chunks.
 */
const activationChunkSize = 500;

/** Loads a config and checks it belongs to `companyId`; another company's config is not found. */
export async function getCompanyConfigRow(deps: ServiceDeps, companyId: number, configId: number): Promise<BackupConfigRow> {
  const row = await loadConfigRow(deps, configId);
  if (row.company_id !== companyId) {
    throw notFound(`Backup config ${configId} not found in company ${companyId}; list configs with "syncctl backup list"`);
  }
  return row;
}

export async function listBackupConfigs(deps: ServiceDeps, companyId: number, includeDeleted = false): Promise<BackupConfig[]> {
  await getCompany(deps, companyId);
  let query = deps.db.selectFrom('backup_configs').selectAll().where('company_id', '=', companyId);
  if (!includeDeleted) query = query.where('deleted', '=', 0);
  const rows = await query.orderBy('id').execute();
  return rows.map(toConfigView);
}

/**
 * Creates a backup config, applies it to its resource (or every resource of the company), arms
 * its schedule, and has each agent watch the paths and push them in full.
 */
export async function createBackupConfig(deps: ServiceDeps, input: BackupConfigInput): Promise<BackupConfig> {
  await getCompany(deps, input.companyId);
  if (input.resourceId !== null) await getCompanyResource(deps, input.companyId, input.resourceId, 'resourceId');

  const now = nowIso();
  const schedule: StoredSchedule = { details: input.scheduleDetails, anchorAt: now };
  const row = await deps.db
    .insertInto('backup_configs')
    .values({
      company_id: input.companyId,
      resource_id: input.resourceId,
      name: input.name,
      enable: input.enable ? 1 : 0,
      schedule_json: JSON.stringify(schedule),
      include_paths_json: JSON.stringify(input.pathDetails.includePaths),
      exclude_paths_json: JSON.stringify(input.pathDetails.excludePaths),
      deleted: 0,
      created_at: now,
      updated_at: now,
    })
    .returningAll()
    .executeTakeFirstOrThrow();

  const resourceIds = await targetResourceIds(deps, input.companyId, input.resourceId);
  await addMappings(deps, row.id, resourceIds);
  deps.logger.info({ configId: row.id, companyId: row.company_id, resourceIds }, 'backup config created');

  if (row.enable === 1) await activateOn(deps, row, resourceIds);
  return toConfigView(row);
}

/**
 * Sends the config to each agent, queues its first full push and arms its jobs. The actions of
 * a chunk of resources are stored in one transaction before any of them is sent. The config
 * actions of every chunk are handed to the relay before the backup actions, so the config reaches
 * all agents before the first runs start. The jobs are armed last, so a catch-up run that fires at
 * once finds the queued run and is absorbed into it. When a chunk fails, the chunks stored before
 * it are still sent and armed before the error propagates.
 */
async function activateOn(deps: ServiceDeps, row: BackupConfigRow, resourceIds: number[]): Promise<void> {
  if (resourceIds.length === 0) return;
  const configs = await toAgentConfigs(deps, row, resourceIds);
  const runActions: StoredAction[] = [];
  const activated: number[] = [];
  try {
    for (const [index, chunk] of chunks(resourceIds, activationChunkSize).entries()) {
      if (index > 0) await nextTurn();
      const stored = await deps.db.transaction().execute(async (trx) => {
        const configActions = await insertActions(
          trx,
          chunk.map((resourceId) => ({ resourceId, action: { kind: 'add_config' as const, config: configs.get(resourceId)! } })),
        );
        return { configActions, runActions: await queueBackupRuns(deps, trx, row, chunk, 'initial', true) };
      });
      await deliverActions(deps, stored.configActions);
      for (const action of stored.runActions) runActions.push(action);
      for (const resourceId of chunk) activated.push(resourceId);
    }
  } finally {
    await deliverActions(deps, runActions);
    armConfigJobs(deps, row, activated.map((resourceId) => ({ resourceId })));
  }
}

async function deactivateOn(deps: ServiceDeps, row: BackupConfigRow, resourceIds: number[]): Promise<void> {
  for (const resourceId of resourceIds) {
    deps.scheduler.disarm(row.id, resourceId);
    await cancelQueuedRuns(deps, row.id, resourceId, 'backup config disabled or moved');
  }
  await enqueueActions(deps, resourceIds.map((resourceId) => ({ resourceId, action: { kind: 'delete_config', configId: row.id } })));
}

function samePaths(before: BackupConfigRow, after: PathDetails | undefined): boolean {
  if (after === undefined) return true;
  return (
    before.include_paths_json === JSON.stringify(after.includePaths) &&
    before.exclude_paths_json === JSON.stringify(after.excludePaths)
  );
}

/**
 * Applies an update. A new schedule re-arms the jobs. New paths make each agent replace its
 * watcher and push the newly included paths, and a new resource moves the config.
 */
export async function updateBackupConfig(deps: ServiceDeps, companyId: number, update: BackupConfigUpdate): Promise<BackupConfig> {
  const before = await getCompanyConfigRow(deps, companyId, update.id);
  if (before.deleted === 1) throw invalidInput(`Backup config ${update.id} is deleted; create a new config instead`);
  if (update.companyId !== undefined && update.companyId !== before.company_id) {
    throw invalidInput(`Field "companyId" (value: ${update.companyId}) cannot change; config ${update.id} belongs to company ${before.company_id}`);
  }
  const nextResourceId = update.resourceId === undefined ? before.resource_id : update.resourceId;
  if (nextResourceId !== null) await getCompanyResource(deps, companyId, nextResourceId, 'resourceId');

  const now = nowIso();
  const scheduleChanged = update.scheduleDetails !== undefined && JSON.stringify(update.scheduleDetails) !== JSON.stringify(toConfigView(before).scheduleDetails);
  const pathsChanged = !samePaths(before, update.pathDetails);
  const schedule: StoredSchedule = scheduleChanged
    ? { details: update.scheduleDetails!, anchorAt: now }
    : JSON.parse(before.schedule_json);

  const after = await deps.db
    .updateTable('backup_configs')
    .set({
      name: update.name ?? before.name,
      enable: enableFlag(update.enable, before.enable),
      resource_id: nextResourceId,
      schedule_json: JSON.stringify(schedule),
      include_paths_json: update.pathDetails ? JSON.stringify(update.pathDetails.includePaths) : before.include_paths_json,
      exclude_paths_json: update.pathDetails ? JSON.stringify(update.pathDetails.excludePaths) : before.exclude_paths_json,
      updated_at: now,
    })
    .where('id', '=', before.id)
    .returningAll()
    .executeTakeFirstOrThrow();

  await applyUpdate(deps, before, after, { scheduleChanged, pathsChanged });
  deps.logger.info({ configId: after.id, companyId, scheduleChanged, pathsChanged }, 'backup config updated');
  return toConfigView(after);
}

async function applyUpdate(
  deps: ServiceDeps,
  before: BackupConfigRow,
  after: BackupConfigRow,
  changes: { scheduleChanged: boolean; pathsChanged: boolean },
): Promise<void> {
  const oldIds = await mappedResourceIds(deps, after.id);
  const newIds = await targetResourceIds(deps, after.company_id, after.resource_id);
  const removed = oldIds.filter((id) => !newIds.includes(id));
  const added = newIds.filter((id) => !oldIds.includes(id));
  const kept = newIds.filter((id) => oldIds.includes(id));

  if (before.enable === 1) await deactivateOn(deps, before, removed);
  await removeMappings(deps, after.id, removed);
  await addMappings(deps, after.id, added);
  for (const resourceId of removed) await clearPendingChanges(deps, after.id, resourceId);

  if (after.enable !== 1) {
    if (before.enable === 1) await deactivateOn(deps, after, kept);
    return;
  }
  await activateOn(deps, after, added);
  if (before.enable !== 1) {
    await activateOn(deps, after, kept);
    return;
  }
  await applyToKeptResources(deps, after, kept, changes);
}

async function applyToKeptResources(
  deps: ServiceDeps,
  row: BackupConfigRow,
  resourceIds: number[],
  changes: { scheduleChanged: boolean; pathsChanged: boolean },
): Promise<void> {
  if (resourceIds.length === 0) return;
  if (changes.scheduleChanged) armConfigJobs(deps, row, resourceIds.map((resourceId) => ({ resourceId })));
  const configs = await toAgentConfigs(deps, row, resourceIds);
  await enqueueActions(
    deps,
    resourceIds.map((resourceId) => ({
      resourceId,
      action: { kind: 'update_config' as const, config: configs.get(resourceId)!, pathsChanged: changes.pathsChanged },
    })),
  );
  if (!changes.pathsChanged) return;

  const includePaths = JSON.parse(row.include_paths_json) as string[];
  const rescans = includePaths.map((path) => ({ path, kind: 'rescan' as const }));
  for (const resourceId of resourceIds) await recordPendingChanges(deps, row.id, resourceId, rescans);
  const stored = await deps.db.transaction().execute((trx) => queueBackupRuns(deps, trx, row, resourceIds, 'paths_changed', false));
  await deliverActions(deps, stored);
}

/**
 * Deletes a config: it is disabled and marked deleted so its snapshots stay restorable, its jobs
 * are cancelled, its pending changes cleared, and each agent drops its watcher.
 */
export async function deleteBackupConfig(deps: ServiceDeps, companyId: number, configId: number): Promise<BackupConfig> {
  const before = await getCompanyConfigRow(deps, companyId, configId);
  const after = await deps.db
    .updateTable('backup_configs')
    .set({ deleted: 1, enable: 0, updated_at: nowIso() })
    .where('id', '=', configId)
    .returningAll()
    .executeTakeFirstOrThrow();

  deps.scheduler.disarmConfig(configId);
  const resourceIds = await mappedResourceIds(deps, configId);
  for (const resourceId of resourceIds) {
    await clearPendingChanges(deps, configId, resourceId);
    await cancelQueuedRuns(deps, configId, resourceId, 'backup config deleted');
  }
  if (before.deleted === 0) {
    await enqueueActions(deps, resourceIds.map((resourceId) => ({ resourceId, action: { kind: 'delete_config', configId } })));
  }
  deps.logger.info({ configId, companyId }, 'backup config deleted');
  return toConfigView(after);
}
