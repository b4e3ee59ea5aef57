import type { AgentBackupConfig } from '../src/protocol/actions.ts';
import type { AgentConfigsResponse } from '../src/protocol/agent-api.ts';
import type { AgentContext } from './agent-context.ts';
import type { ChangeReporter } from './change-reporter.ts';
import type { ConfigRegistry, UpsertOutcome } from './config-registry.ts';
import type { RunQueue } from './run-queue.ts';
import { backupTask } from './run-tasks.ts';
import { loadSnapshotEntries } from './transfer/snapshot-manifest.ts';
import { reconcileTree } from './watcher/reconcile.ts';

/**
 * Keeps the agent's watchers and snapshots in step with the coordinator: after each connect it
 * fetches the configs, makes the watcher set match them, asks for a full push of each config
 * without a snapshot, and reconciles the others with their last snapshot.
 */
export class ConfigSync {
  private readonly context: AgentContext;
  private readonly registry: ConfigRegistry;
  private readonly runs: RunQueue;
  private readonly reporter: ChangeReporter;
  private reconciling: Promise<void> = Promise.resolve();
  private readonly reconcileQueued = new Set<number>();

  constructor(context: AgentContext, registry: ConfigRegistry, runs: RunQueue, reporter: ChangeReporter) {
    this.context = context;
    this.registry = registry;
    this.runs = runs;
    this.reporter = reporter;
  }

  /** Fetches `GET /agent/configs` and brings every config up to date. */
  async syncAll(): Promise<void> {
    const { backupConfigs } = await this.context.client.get<AgentConfigsResponse>('/agent/configs');
    const wanted = new Set(backupConfigs.map((config) => config.id));
    for (const configId of this.registry.ids()) {
      if (!wanted.has(configId)) await this.drop(configId);
    }
    for (const config of backupConfigs) {
      const outcome = await this.registry.upsert(config);
      this.reporter.setRoots(config.id, this.registry.get(config.id)!.filter.roots);
      await this.prepare(config, outcome, false);
    }
    this.context.logger.info({ resourceId: this.context.resourceId, configs: backupConfigs.length }, 'configs synchronized');
    await this.reporter.flush();
  }

  /** Serves a config from an `add_config` or `update_config` action. */
  async apply(config: AgentBackupConfig, pathsChanged: boolean): Promise<void> {
    const outcome = await this.registry.upsert(config);
    this.reporter.setRoots(config.id, this.registry.get(config.id)!.filter.roots);
    await this.prepare(config, outcome, pathsChanged);
  }

  /** Stops serving a config: its watcher, unsent changes and cached manifest go. */
  async drop(configId: number): Promise<void> {
    await this.registry.remove(configId);
    this.reporter.forget(configId);
    await this.context.manifests.remove(configId);
  }

  /**
   * Asks for a full push when the config has no snapshot or its paths changed, because the new
   * paths must be backed up whole; otherwise queues a reconcile with the last snapshot.
   */
  private async prepare(config: AgentBackupConfig, outcome: UpsertOutcome, pathsChanged: boolean): Promise<void> {
    if (outcome === 'pathsChanged' || pathsChanged) {
      await this.requestFullRun(config);
      return;
    }
    if (config.lastSnapshotId === null) {
      // A backup of the config in progress is its first push, started before a reconnect.
      if (!this.runs.isBusy(config.id)) await this.requestFullRun(config);
      return;
    }
    this.queueReconcile(config);
  }

  private async requestFullRun(config: AgentBackupConfig): Promise<void> {
    const { runId } = await this.context.client.post<{ runId: number }>(
      '/agent/runs',
      { configId: config.id, full: true },
      { idempotent: true },
    );
    this.context.logger.info({ configId: config.id, runId }, 'full backup requested');
    // The coordinator also sends a backup action for this run; the run queue runs it once.
    this.runs.backup(config.id, runId, backupTask(this.context, runId, config.id)).catch((error: unknown) => {
      this.context.logger.error({ configId: config.id, runId, err: error }, 'full backup could not start');
    });
  }

  /** Queues a reconcile of the config; reconciles run one at a time, and a config waits at most once. */
  private queueReconcile(config: AgentBackupConfig): void {
    if (this.reconcileQueued.has(config.id)) return;
    this.reconcileQueued.add(config.id);
    this.reconciling = this.reconciling.then(async () => {
      this.reconcileQueued.delete(config.id);
      try {
        await this.reconcile(config.id);
      } catch (error) {
        this.context.logger.error({ configId: config.id, err: error }, 'reconcile failed');
      }
    });
  }

  private async reconcile(configId: number): Promise<void> {
    const watched = this.registry.get(configId);
    const snapshotId = watched?.config.lastSnapshotId ?? null;
    if (watched === undefined || snapshotId === null) return;

    const startedAt = Date.now();
    const snapshot = await loadSnapshotEntries(this.context.client, this.context.manifests, {
      configId,
      resourceId: this.context.resourceId,
      snapshotId,
    });
    const result = await reconcileTree(watched.filter, snapshot);
    if (this.registry.get(configId) !== watched) return;

    this.reporter.report(configId, result.changes);
    this.context.logger.info(
      {
        configId,
        snapshotId,
        changes: result.changes.length,
        missingRoots: result.missingRoots,
        unreadable: result.unreadable.length,
        durationMs: Date.now() - startedAt,
      },
      'reconcile finished',
    );
  }
}
