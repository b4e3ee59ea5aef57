import type { Insertable, Selectable } from 'kysely';
import { SyncctlError, notFound } from '../../src/protocol/errors.ts';
import { isFinished, type RunProgress, type RunStatus, type RunTrigger, type RunView } from '../../src/protocol/runs.ts';
import type { RunsTable } from '../db/schema.ts';
import type { ServiceDeps } from './service-deps.ts';

export type RunRow = Selectable<RunsTable>;

/** Returns the row of a new queued backup run of a config on one resource. */
export function queuedBackupRunRow(
  config: { id: number; company_id: number },
  resourceId: number,
  trigger: RunTrigger,
  full: boolean,
  createdAt: string,
): Insertable<RunsTable> {
  return {
    kind: 'backup',
    company_id: config.company_id,
    config_id: config.id,
    resource_id: resourceId,
    status: 'queued',
    trigger,
    full: full ? 1 : 0,
    params_json: '{}',
    progress_json: JSON.stringify(emptyProgress),
    warnings_json: '[]',
    error: null,
    max_change_seq: null,
    base_snapshot_id: null,
    snapshot_id: null,
    created_at: createdAt,
    started_at: null,
    finished_at: null,
  };
}

export const emptyProgress: RunProgress = { files: 0, bytes: 0, filesUploaded: 0, bytesUploaded: 0 };

export function toRunView(row: RunRow): RunView {
  return {
    id: row.id,
    kind: row.kind,
    companyId: row.company_id,
    configId: row.config_id,
    resourceId: row.resource_id,
    status: row.status as RunStatus,
    trigger: row.trigger as RunTrigger,
    snapshotId: row.snapshot_id,
    progress: JSON.parse(row.progress_json) as RunProgress,
    warnings: JSON.parse(row.warnings_json) as string[],
    error: row.error,
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
  };
}

export async function loadRun(deps: ServiceDeps, runId: number): Promise<RunRow> {
  const row = await deps.db.selectFrom('runs').selectAll().where('id', '=', runId).executeTakeFirst();
  if (!row) throw notFound(`Run ${runId} not found`);
  return row;
}

/** Loads a run that the calling agent's resource must carry out. */
export async function loadResourceRun(deps: ServiceDeps, resourceId: number, runId: number): Promise<RunRow> {
  const row = await loadRun(deps, runId);
  if (row.resource_id !== resourceId) throw new SyncctlError('forbidden', `Run ${runId} belongs to another resource`);
  return row;
}

/**
 * Returns a run of the company. With `waitMs`, a run that has not finished is returned once it
 * finishes or once `waitMs` passed, whichever comes first.
 */
export async function getCompanyRun(deps: ServiceDeps, companyId: number, runId: number, waitMs = 0): Promise<RunView> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const row = await loadRun(deps, runId);
    if (row.company_id !== companyId) throw notFound(`Run ${runId} not found in company ${companyId}`);
    const view = toRunView(row);
    const remainingMs = deadline - Date.now();
    if (isFinished(view.status) || remainingMs <= 0) return view;
    await deps.runWaiters.wait(runId, remainingMs);
  }
}

export function assertRunning(row: RunRow): void {
  if (row.status !== 'running') {
    throw new SyncctlError('conflict', `Run ${row.id} is ${row.status}, not running; it cannot take results`);
  }
}

/** Lists the runs of one config, newest first, at most 100. */
export async function listConfigRuns(deps: ServiceDeps, companyId: number, configId: number): Promise<RunView[]> {
  const rows = await deps.db
    .selectFrom('runs')
    .selectAll()
    .where('company_id', '=', companyId)
    .where('config_id', '=', configId)
    .orderBy('id', 'desc')
    .limit(100)
    .execute();
  return rows.map(toRunView);
}
