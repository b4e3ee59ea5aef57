import type { AgentAction } from '../src/protocol/actions.ts';
import type { AgentContext } from './agent-context.ts';
import type { ConfigSync } from './config-sync.ts';
import type { RunQueue } from './run-queue.ts';
import { backupTask, restoreTask } from './run-tasks.ts';
import type { SyncManager } from './sync/sync-manager.ts';

/**
 * Handles the actions the coordinator sends. Each handler is idempotent, because delivery is at
 * least once. A backup or restore action resolves when its run has ended, so its ack follows the
 * run. A config action resolves once the watcher set is updated.
 */
export class ActionDispatcher {
  private readonly context: AgentContext;
  private readonly configs: ConfigSync;
  private readonly runs: RunQueue;

  private readonly syncs: SyncManager;

  constructor(context: AgentContext, configs: ConfigSync, runs: RunQueue, syncs: SyncManager) {
    this.context = context;
    this.configs = configs;
    this.runs = runs;
    this.syncs = syncs;
  }

  async handle(actionId: number, action: AgentAction): Promise<void> {
    const fields = { actionId, ...describeAction(action) };
    this.context.logger.info(fields, 'action received');
    await this.run(action);
    this.context.logger.info(fields, 'action handled');
  }

  private async run(action: AgentAction): Promise<void> {
    switch (action.kind) {
      case 'add_config':
        await this.configs.apply(action.config, false);
        return;
      case 'update_config':
        await this.configs.apply(action.config, action.pathsChanged);
        return;
      case 'delete_config':
        await this.configs.drop(action.configId);
        return;
      case 'backup': {
        const { configId, runId } = action;
        const task = backupTask(this.context, runId, configId, this.configs.backupHooks(configId));
        await this.runs.backup(configId, runId, task);
        return;
      }
      case 'restore':
        await this.runs.restore(action.runId, restoreTask(this.context, action.runId));
        return;
      case 'sync_watch':
        await this.syncs.watch(action.config);
        return;
      case 'sync_unwatch':
        await this.syncs.unwatch(action.configId);
        return;
      case 'sync_apply':
        await this.syncs.apply(action.delivery);
        return;
      case 'download':
        await this.syncs.receiveShare(action.share);
        return;
    }
  }
}

/** Returns the log fields of an action: its kind and the config and run ids it carries. */
function describeAction(action: AgentAction): { kind: string; configId?: number; runId?: number } {
  if (action.kind === 'add_config' || action.kind === 'update_config') {
    return { kind: action.kind, configId: action.config.id };
  }
  if (action.kind === 'delete_config') return { kind: action.kind, configId: action.configId };
  if (action.kind === 'backup') {
    return { kind: action.kind, configId: action.configId, runId: action.runId };
  }
  if (action.kind === 'restore') return { kind: action.kind, runId: action.runId };
  if (action.kind === 'sync_watch') return { kind: action.kind, configId: action.config.id };
  if (action.kind === 'sync_unwatch') return { kind: action.kind, configId: action.configId };
  if (action.kind === 'sync_apply') return { kind: action.kind, configId: action.delivery.configId };
  return { kind: action.kind };
}
