import type { BackupConfig } from '../src/protocol/backup-config.ts';
import { isFinished, type RunView } from '../src/protocol/runs.ts';
import { sleep, type BenchCluster, type BenchCompany } from './processes.ts';

/** Interval in ms at which a benchmark polls for the first run of a new config. */
const pollMs = 10;

/** Creates a backup config of `paths` on one resource (or, with null, every resource), scheduled daily. */
export async function createBackupConfig(
  cluster: BenchCluster,
  company: BenchCompany,
  resourceId: number | null,
  name: string,
  paths: string[],
): Promise<BackupConfig> {
  const body = {
    name,
    enable: true,
    resourceId,
    scheduleDetails: { scheduleType: 'DAYS', scheduleInterval: 1 },
    pathDetails: { includePaths: paths, excludePaths: [] },
  };
  return cluster.api<BackupConfig>('POST', `/companies/${company.id}/backup-configs`, body, company);
}

/** Polls a run until it finished and throws unless it completed without warnings. */
export async function waitForRun(cluster: BenchCluster, company: BenchCompany, runId: number, timeoutMs: number): Promise<RunView> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    const run = await cluster.api<RunView>('GET', `/companies/${company.id}/runs/${runId}`, undefined, company);
    if (isFinished(run.status)) {
      if (run.status !== 'completed') throw new Error(`run ${runId} ended ${run.status}: ${run.error ?? run.warnings.join('; ')}`);
      return run;
    }
    await sleep(pollMs);
  }
  throw new Error(`run ${runId} did not finish within ${timeoutMs / 1000} s`);
}

/** Waits for the first backup run of a new config, which the coordinator queues when the config is created. */
export async function waitForFirstRun(cluster: BenchCluster, company: BenchCompany, configId: number, timeoutMs: number): Promise<RunView> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const runs = await cluster.api<RunView[]>('GET', `/companies/${company.id}/backup-configs/${configId}/runs`, undefined, company);
    const first = runs.at(-1);
    if (first !== undefined) return waitForRun(cluster, company, first.id, deadline - performance.now());
    if (performance.now() > deadline) throw new Error(`config ${configId} got no run within ${timeoutMs / 1000} s`);
    await sleep(pollMs);
  }
}

/** Creates a backup config and waits for its first snapshot: what `syncctl backup add` starts. */
export async function backupFromConfigCreation(
  cluster: BenchCluster,
  company: BenchCompany,
  resourceId: number,
  name: string,
  paths: string[],
  timeoutMs: number,
): Promise<{ config: BackupConfig; run: RunView }> {
  const config = await createBackupConfig(cluster, company, resourceId, name, paths);
  const run = await waitForFirstRun(cluster, company, config.id, timeoutMs);
  return { config, run };
}

/** Starts a backup run of an existing config, as `syncctl backup run --wait` does, and waits for it. */
export async function runBackupNow(cluster: BenchCluster, company: BenchCompany, configId: number, resourceId: number, timeoutMs: number): Promise<RunView> {
  const { runs } = await cluster.api<{ runs: RunView[] }>('POST', `/companies/${company.id}/backup-configs/${configId}/runs`, { resourceId }, company);
  return waitForRun(cluster, company, runs[0].id, timeoutMs);
}

/** Restores the latest snapshot of a config under `to`, as `syncctl backup restore --wait` does. */
export async function restoreLatest(
  cluster: BenchCluster,
  company: BenchCompany,
  configId: number,
  resourceId: number,
  to: string,
  timeoutMs: number,
): Promise<RunView> {
  const body = { configId, resourceId, snapshot: 'latest', to };
  const run = await cluster.api<RunView>('POST', `/companies/${company.id}/restores`, body, company);
  return waitForRun(cluster, company, run.id, timeoutMs);
}
