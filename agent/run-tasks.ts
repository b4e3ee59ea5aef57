import { SyncctlError } from '../src/protocol/errors.ts';
import type { AgentContext } from './agent-context.ts';
import type { RunTask } from './run-queue.ts';
import { runBackup } from './transfer/backup-run.ts';
import { runRestore } from './transfer/restore-run.ts';

/** Callbacks through which a backup task works with the rest of the agent around its run. */
export interface BackupHooks {
  /** Resolves when the run may be claimed, such as after a reconcile reported its changes. */
  beforeClaim(): Promise<void>;
  /**
   * Returns the paths below which every file is hashed again instead of trusting size and mtime.
   */
  rehashRoots(): readonly string[];
  /** Receives the paths of `rehashRoots` after a run that used them committed. */
  committed(rehashed: readonly string[]): void;
}

/** Returns the task of a backup run for the run queue. */
export function backupTask(
  context: AgentContext,
  runId: number,
  configId: number,
  hooks: BackupHooks,
): RunTask {
  return async function runQueuedBackup(signal) {
    await hooks.beforeClaim();
    const rehashBelow = hooks.rehashRoots();
    await claimed(context, { runId, configId }, async () => {
      const result = await runBackup(context, runId, signal, { rehashBelow });
      if (result.status === 'completed') hooks.committed(rehashBelow);
    });
  };
}

/** Returns the task of a restore run for the run queue. */
export function restoreTask(context: AgentContext, runId: number): RunTask {
  return async function runQueuedRestore(signal) {
    await claimed(context, { runId }, () => runRestore(context, runId, signal));
  };
}

/**
 * Runs a run body, treating a claim the coordinator rejects (the run finished, was cancelled or
 * is unknown) as done. Other claim failures, such as an unreachable coordinator, are thrown so
 * that the action stays unacknowledged and arrives again after a reconnect.
 */
async function claimed(
  context: AgentContext,
  ids: { runId: number; configId?: number },
  body: () => Promise<unknown>,
) {
  try {
    await body();
  } catch (error) {
    const rejected =
      error instanceof SyncctlError &&
      (error.code === 'conflict' || error.code === 'notFound' || error.code === 'forbidden');
    if (!rejected) throw error;
    context.logger.warn(
      { ...ids, err: error },
      'coordinator rejected the run claim; nothing to do',
    );
  }
}
