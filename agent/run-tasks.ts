import { SyncctlError } from '../src/protocol/errors.ts';
import type { AgentContext } from './agent-context.ts';
import type { RunTask } from './run-queue.ts';
import { runBackup } from './transfer/backup-run.ts';
import { runRestore } from './transfer/restore-run.ts';

/** Returns the task of a backup run for the run queue. */
export function backupTask(context: AgentContext, runId: number, configId: number): RunTask {
  return async function runQueuedBackup(signal) {
    await claimed(context, { runId, configId }, () => runBackup(context, runId, signal));
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
async function claimed(context: AgentContext, ids: { runId: number; configId?: number }, body: () => Promise<unknown>) {
  try {
    await body();
  } catch (error) {
    const rejected =
      error instanceof SyncctlError && (error.code === 'conflict' || error.code === 'notFound' || error.code === 'forbidden');
    if (!rejected) throw error;
    context.logger.warn({ ...ids, err: error }, 'coordinator rejected the run claim; nothing to do');
  }
}
