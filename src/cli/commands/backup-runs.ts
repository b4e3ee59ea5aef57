import { SyncctlError } from '../../protocol/errors.ts';
import { isFinished, type RunView, type SnapshotView } from '../../protocol/runs.ts';
import { parsePositiveInt, requireAbsolutePath, resolveCompanyId, resolveContext, type CommandContext, type GlobalOptions } from '../context.ts';
import { formatBytes, formatTable, printResult, ProgressLine } from '../output.ts';

export interface BackupRunOptions {
  company?: string;
  resource?: string;
  wait?: boolean;
}

/** How long a wait rides out an unreachable coordinator, for example while it restarts. */
const unreachableGraceMs = 120_000;

/**
 * Seconds each request for the run waits on the coordinator for it to finish: 1 while progress
 * is drawn on a terminal, so the line moves each second, and longer when nothing is drawn.
 */
const progressWaitSeconds = 1;
const quietWaitSeconds = 30;

/** Waits for a run to finish, redrawing progress on a terminal. */
export async function waitForRun(context: CommandContext, companyId: number, runId: number): Promise<RunView> {
  const progress = new ProgressLine(context.json);
  const waitSeconds = progress.visible ? progressWaitSeconds : quietWaitSeconds;
  let unreachableSince: number | null = null;
  for (;;) {
    let run: RunView;
    try {
      run = await context.client.request<RunView>('GET', `/companies/${companyId}/runs/${runId}?waitSeconds=${waitSeconds}`);
      unreachableSince = null;
    } catch (error) {
      if (!(error instanceof SyncctlError && error.code === 'unavailable')) throw error;
      unreachableSince ??= Date.now();
      if (Date.now() - unreachableSince > unreachableGraceMs) throw error;
      await new Promise((resolve) => setTimeout(resolve, 1000));
      continue;
    }
    progress.update(run.progress.files, run.progress.bytes);
    if (isFinished(run.status)) {
      progress.done();
      return run;
    }
  }
}

function failIfFailed(run: RunView): void {
  if (run.status === 'failed') throw new SyncctlError('internal', `Run ${run.id} failed: ${run.error ?? 'no reason given'}`);
}

function runResult(run: RunView) {
  return {
    runId: run.id,
    status: run.status,
    snapshotId: run.snapshotId,
    files: run.progress.files,
    bytes: run.progress.bytes,
    filesUploaded: run.progress.filesUploaded,
    bytesUploaded: run.progress.bytesUploaded,
    warnings: run.warnings,
  };
}

function describeRun(run: RunView): string {
  const p = run.progress;
  const lines = [`Snapshot ${run.snapshotId} of config ${run.configId} on resource ${run.resourceId}: ${p.files} files, ${formatBytes(p.bytes)}; uploaded ${p.filesUploaded} files, ${formatBytes(p.bytesUploaded)}.`];
  for (const warning of run.warnings) lines.push(`warning: ${warning}`);
  return lines.join('\n');
}

export async function backupRun(id: string, options: BackupRunOptions, globals: GlobalOptions): Promise<void> {
  const context = await resolveContext(globals);
  const companyId = resolveCompanyId(context, options.company);
  const configId = parsePositiveInt(id, 'config ID');
  const body = options.resource === undefined ? {} : { resourceId: parsePositiveInt(options.resource, '--resource') };
  const { runs } = await context.client.request<{ runs: RunView[] }>('POST', `/companies/${companyId}/backup-configs/${configId}/runs`, body);
  if (!options.wait) {
    printResult(context.json, runs.length === 1 ? { runId: runs[0].id, status: runs[0].status } : runs.map((r) => ({ runId: r.id, resourceId: r.resourceId, status: r.status })), () => runs.map((r) => `Run ${r.id} queued on resource ${r.resourceId}.`).join('\n'));
    return;
  }

  const finished: RunView[] = [];
  for (const run of runs) finished.push(await waitForRun(context, companyId, run.id));
  const results = finished.map(runResult);
  printResult(context.json, results.length === 1 ? results[0] : results, () => finished.map(describeRun).join('\n'));
  for (const run of finished) failIfFailed(run);
}

export async function backupSnapshots(id: string, options: { company?: string; resource?: string }, globals: GlobalOptions): Promise<void> {
  const context = await resolveContext(globals);
  const companyId = resolveCompanyId(context, options.company);
  const configId = parsePositiveInt(id, 'config ID');
  const query = options.resource === undefined ? '' : `?resourceId=${parsePositiveInt(options.resource, '--resource')}`;
  const snapshots = await context.client.request<SnapshotView[]>('GET', `/companies/${companyId}/backup-configs/${configId}/snapshots${query}`);
  printResult(context.json, snapshots, () =>
    snapshots.length === 0
      ? `No snapshots of config ${configId} yet.`
      : formatTable(['ID', 'RESOURCE', 'CREATED', 'FILES', 'SIZE'], snapshots.map((s) => [s.id, s.resourceId, s.createdAt, s.files, formatBytes(s.bytes)])),
  );
}

export interface BackupRestoreOptions {
  company?: string;
  resource: string;
  snapshot?: string;
  to: string;
  on?: string;
  path?: string;
  wait?: boolean;
}

export async function backupRestore(id: string, options: BackupRestoreOptions, globals: GlobalOptions): Promise<void> {
  const context = await resolveContext(globals);
  const companyId = resolveCompanyId(context, options.company);
  const snapshot = options.snapshot === undefined || options.snapshot === 'latest' ? 'latest' : parsePositiveInt(options.snapshot, '--snapshot');
  const body = {
    configId: parsePositiveInt(id, 'config ID'),
    resourceId: parsePositiveInt(options.resource, '--resource'),
    snapshot,
    to: requireAbsolutePath(options.to, '--to'),
    on: options.on === undefined ? undefined : parsePositiveInt(options.on, '--on'),
    path: options.path === undefined ? undefined : requireAbsolutePath(options.path, '--path'),
  };
  const run = await context.client.request<RunView>('POST', `/companies/${companyId}/restores`, body);
  if (!options.wait) {
    printResult(context.json, { runId: run.id, status: run.status, snapshotId: run.snapshotId }, () => `Restore ${run.id} of snapshot ${run.snapshotId} queued on resource ${run.resourceId}.`);
    return;
  }

  const finished = await waitForRun(context, companyId, run.id);
  const result = { runId: finished.id, status: finished.status, snapshotId: finished.snapshotId, files: finished.progress.files, bytes: finished.progress.bytes, warnings: finished.warnings };
  printResult(context.json, result, () => [`Restored snapshot ${finished.snapshotId} to ${body.to}: ${result.files} files, ${formatBytes(result.bytes)}.`, ...finished.warnings.map((w) => `warning: ${w}`)].join('\n'));
  failIfFailed(finished);
}
