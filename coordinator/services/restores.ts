import type { RestoreRunStart } from '../../src/protocol/agent-api.ts';
import type { RestoreRequest, RunView } from '../../src/protocol/runs.ts';
import { getCompanyConfigRow } from './backup-configs.ts';
import { getCompany } from './companies.ts';
import { enqueueAction } from './outbox.ts';
import { getCompanyResource } from './resources.ts';
import { nowIso } from './secrets.ts';
import { signedUrlTtlSeconds, type ServiceDeps } from './service-deps.ts';
import { resolveSnapshot } from './snapshots.ts';
import { assertRunning, emptyProgress, toRunView, type RunRow } from './run-rows.ts';
import type { RunProgress } from '../../src/protocol/runs.ts';

interface RestoreParams {
  snapshotId: number;
  sourceResourceId: number;
  to: string;
  path: string | null;
}

/**
 * Queues a restore of a snapshot onto the resource that made it, or onto another resource of the
 * same company, and sends it to that agent.
 */
export async function requestRestore(deps: ServiceDeps, companyId: number, request: RestoreRequest): Promise<RunView> {
  const config = await getCompanyConfigRow(deps, companyId, request.configId);
  await getCompanyResource(deps, companyId, request.resourceId, 'resourceId');
  const target = request.on ?? request.resourceId;
  if (target !== request.resourceId) await getCompanyResource(deps, companyId, target, 'on');
  const snapshot = await resolveSnapshot(deps, config.id, request.resourceId, request.snapshot);

  const params: RestoreParams = { snapshotId: snapshot.id, sourceResourceId: request.resourceId, to: request.to, path: request.path ?? null };
  const row = await deps.db
    .insertInto('runs')
    .values({
      kind: 'restore',
      company_id: companyId,
      config_id: config.id,
      resource_id: target,
      status: 'queued',
      trigger: 'restore',
      full: 0,
      params_json: JSON.stringify(params),
      progress_json: JSON.stringify(emptyProgress),
      warnings_json: '[]',
      error: null,
      max_change_seq: null,
      base_snapshot_id: snapshot.id,
      snapshot_id: snapshot.id,
      created_at: nowIso(),
      started_at: null,
      finished_at: null,
    })
    .returningAll()
    .executeTakeFirstOrThrow();

  await enqueueAction(deps, target, { kind: 'restore', runId: row.id });
  deps.logger.info({ runId: row.id, configId: config.id, snapshotId: snapshot.id, resourceId: target, sourceResourceId: request.resourceId }, 'restore queued');
  return toRunView(row);
}

export async function startRestoreRun(deps: ServiceDeps, run: RunRow): Promise<RestoreRunStart> {
  const params = JSON.parse(run.params_json) as RestoreParams;
  const company = await getCompany(deps, run.company_id);
  const snapshot = await deps.db.selectFrom('snapshots').selectAll().where('id', '=', params.snapshotId).executeTakeFirstOrThrow();
  await deps.db.updateTable('runs').set({ status: 'running', started_at: nowIso() }).where('id', '=', run.id).execute();

  deps.logger.info({ runId: run.id, snapshotId: snapshot.id, resourceId: run.resource_id }, 'restore started');
  return {
    kind: 'restore',
    runId: run.id,
    snapshotId: snapshot.id,
    manifestUrl: deps.store.signUrl(company.bucket, snapshot.manifest_key, 'get', signedUrlTtlSeconds),
    to: params.to,
    path: params.path,
  };
}

export async function commitRestoreRun(deps: ServiceDeps, run: RunRow, result: { files: number; bytes: number; warnings: string[] }): Promise<RunView> {
  assertRunning(run);
  const progress: RunProgress = { files: result.files, bytes: result.bytes, filesUploaded: 0, bytesUploaded: 0 };
  const status = result.warnings.length > 0 ? 'completed_with_warnings' : 'completed';
  const row = await deps.db
    .updateTable('runs')
    .set({ status, finished_at: nowIso(), progress_json: JSON.stringify(progress), warnings_json: JSON.stringify(result.warnings) })
    .where('id', '=', run.id)
    .returningAll()
    .executeTakeFirstOrThrow();
  deps.runWaiters.notify(run.id);
  deps.logger.info({ runId: run.id, snapshotId: run.snapshot_id, resourceId: run.resource_id, status, files: result.files, bytes: result.bytes }, 'restore finished');
  return toRunView(row);
}
