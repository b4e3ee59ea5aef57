import { SyncctlError } from '../../src/protocol/errors.ts';
import type { BackupRunStart } from '../../src/protocol/agent-api.ts';
import { manifestKey } from '../../src/protocol/manifest.ts';
import type { CommitRunInput, RunProgress, RunTrigger, RunView } from '../../src/protocol/runs.ts';
import { loadConfigRow, latestSnapshotId, toAgentConfig } from './backup-config-rows.ts';
import { getCompany } from './companies.ts';
import { enqueueAction } from './outbox.ts';
import { clearPendingUpTo, pendingForRun } from './pending-changes.ts';
import { recordBlobs } from './blobs.ts';
import { nowIso } from './secrets.ts';
import { signedUrlTtlSeconds, type ServiceDeps } from './service-deps.ts';
import { assertRunning, loadRun, queuedBackupRunRow, toRunView, type RunRow } from './run-rows.ts';

export interface BackupRunRequest {
  configId: number;
  resourceId: number;
  trigger: RunTrigger;
  full: boolean;
}

/**
 * Queues a backup run and sends it to the agent. A run already queued for the same config and
 * resource absorbs the request, so runs missed while an agent is offline start once, not once each.
 */
export async function requestBackupRun(deps: ServiceDeps, request: BackupRunRequest): Promise<RunView> {
  const queued = await deps.db
    .selectFrom('runs')
    .selectAll()
    .where('kind', '=', 'backup')
    .where('config_id', '=', request.configId)
    .where('resource_id', '=', request.resourceId)
    .where('status', '=', 'queued')
    .orderBy('id')
    .executeTakeFirst();
  if (queued) {
    if (request.full && queued.full === 0) {
      await deps.db.updateTable('runs').set({ full: 1 }).where('id', '=', queued.id).execute();
    }
    deps.logger.info({ runId: queued.id, configId: request.configId, resourceId: request.resourceId, trigger: request.trigger }, 'backup run already queued');
    return toRunView(queued);
  }

  const config = await loadConfigRow(deps, request.configId);
  const row = await deps.db
    .insertInto('runs')
    .values(queuedBackupRunRow(config, request.resourceId, request.trigger, request.full, nowIso()))
    .returningAll()
    .executeTakeFirstOrThrow();

  await enqueueAction(deps, request.resourceId, { kind: 'backup', runId: row.id, configId: config.id });
  deps.logger.info({ runId: row.id, configId: config.id, resourceId: request.resourceId, trigger: request.trigger, full: request.full }, 'backup run queued');
  return toRunView(row);
}

/** Fails the queued runs of a config on a resource, e.g. when the config is deleted. */
export async function cancelQueuedRuns(deps: ServiceDeps, configId: number, resourceId: number, reason: string): Promise<void> {
  await deps.db
    .updateTable('runs')
    .set({ status: 'failed', error: reason, finished_at: nowIso() })
    .where('config_id', '=', configId)
    .where('resource_id', '=', resourceId)
    .where('status', '=', 'queued')
    .execute();
  deps.runWaiters.notifyAll();
}

/**
 * Hands a backup run to its agent: the base snapshot, the pending paths it must examine, and a
 * signed URL for the new manifest. A run claimed again (the agent reconnected) starts over.
 */
export async function startBackupRun(deps: ServiceDeps, run: RunRow): Promise<BackupRunStart> {
  const config = await loadConfigRow(deps, run.config_id);
  if (config.deleted === 1 || config.enable !== 1) {
    await failRunRow(deps, run, `Backup config ${config.id} is disabled or deleted`);
    throw new SyncctlError('conflict', `Backup config ${config.id} is disabled or deleted; run ${run.id} was dropped`);
  }

  const company = await getCompany(deps, run.company_id);
  const baseId = await latestSnapshotId(deps, config.id, run.resource_id);
  const pending = await pendingForRun(deps, config.id, run.resource_id);
  const full = run.full === 1 || baseId === null;
  await deps.db
    .updateTable('runs')
    .set({ status: 'running', started_at: nowIso(), max_change_seq: pending.maxSeq, base_snapshot_id: baseId, full: full ? 1 : 0 })
    .where('id', '=', run.id)
    .execute();

  const key = manifestKey(config.id, run.resource_id, run.id);
  const base = baseId === null ? null : await baseManifest(deps, company.bucket, baseId);
  deps.logger.info({ runId: run.id, configId: config.id, resourceId: run.resource_id, full, changedPaths: pending.paths.length, baseSnapshotId: baseId }, 'backup run started');
  return {
    kind: 'backup',
    runId: run.id,
    snapshotId: run.id,
    config: await toAgentConfig(deps, config, run.resource_id),
    full,
    base,
    changedPaths: full ? [] : pending.paths,
    manifestKey: key,
    manifestUploadUrl: deps.store.signUrl(company.bucket, key, 'put', signedUrlTtlSeconds),
  };
}

async function baseManifest(deps: ServiceDeps, bucket: string, snapshotId: number) {
  const snapshot = await deps.db.selectFrom('snapshots').select('manifest_key').where('id', '=', snapshotId).executeTakeFirstOrThrow();
  return { snapshotId, manifestUrl: deps.store.signUrl(bucket, snapshot.manifest_key, 'get', signedUrlTtlSeconds) };
}

export async function recordRunProgress(deps: ServiceDeps, run: RunRow, progress: RunProgress): Promise<void> {
  assertRunning(run);
  await deps.db.updateTable('runs').set({ progress_json: JSON.stringify(progress) }).where('id', '=', run.id).execute();
}

/**
 * Commits a backup run's snapshot once its manifest is in the bucket, records the new contents,
 * and clears the pending changes the run saw.
 */
export async function commitBackupRun(deps: ServiceDeps, run: RunRow, input: CommitRunInput): Promise<RunView> {
  assertRunning(run);
  const company = await getCompany(deps, run.company_id);
  const expectedKey = manifestKey(run.config_id, run.resource_id, run.id);
  if (input.manifestKey !== expectedKey) {
    throw new SyncctlError('invalidInput', `Field "manifestKey" (value: "${input.manifestKey}") must be "${expectedKey}"`);
  }
  if (!(await deps.store.hasObject(company.bucket, expectedKey))) {
    throw new SyncctlError('invalidInput', `Manifest "${expectedKey}" is not in bucket "${company.bucket}"; upload it before committing`);
  }

  for (const key of new Set(input.newBlobs.map((blob) => blob.key))) {
    if (!(await deps.store.hasObject(company.bucket, key))) {
      throw new SyncctlError('invalidInput', `Object "${key}" named in "newBlobs" is not in bucket "${company.bucket}"; upload it before committing`);
    }
  }

  const now = nowIso();
  const progress: RunProgress = { files: input.files, bytes: input.bytes, filesUploaded: input.filesUploaded, bytesUploaded: input.bytesUploaded };
  const status = input.warnings.length > 0 ? 'completed_with_warnings' : 'completed';
  await recordBlobs(deps, run.company_id, input.newBlobs);
  await deps.db.transaction().execute(async (trx) => {
    await trx
      .insertInto('snapshots')
      .values({ id: run.id, company_id: run.company_id, config_id: run.config_id, resource_id: run.resource_id, parent_id: run.base_snapshot_id, manifest_key: expectedKey, files: input.files, bytes: input.bytes, created_at: now })
      .execute();
    await trx
      .updateTable('runs')
      .set({ status, snapshot_id: run.id, finished_at: now, progress_json: JSON.stringify(progress), warnings_json: JSON.stringify(input.warnings) })
      .where('id', '=', run.id)
      .execute();
  });
  await clearPendingUpTo(deps, run.config_id, run.resource_id, run.max_change_seq ?? 0);
  deps.runWaiters.notify(run.id);

  deps.logger.info({ runId: run.id, configId: run.config_id, resourceId: run.resource_id, snapshotId: run.id, status, ...progress, warnings: input.warnings.length }, 'backup run finished');
  return toRunView(await loadRun(deps, run.id));
}

export async function failRunRow(deps: ServiceDeps, run: RunRow, message: string): Promise<void> {
  await deps.db.updateTable('runs').set({ status: 'failed', error: message, finished_at: nowIso() }).where('id', '=', run.id).execute();
  deps.runWaiters.notify(run.id);
  deps.logger.warn({ runId: run.id, kind: run.kind, configId: run.config_id, resourceId: run.resource_id, error: message }, 'run failed');
}
