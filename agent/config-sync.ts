import type { AgentBackupConfig } from '../src/protocol/actions.ts';
import type { AgentConfigsResponse } from '../src/protocol/agent-api.ts';
import type { AgentContext } from './agent-context.ts';
import type { ChangeReporter } from './change-reporter.ts';
import type { ConfigRegistry, UpsertOutcome } from './config-registry.ts';
import type { RunQueue } from './run-queue.ts';
import { backupTask, type BackupHooks } from './run-tasks.ts';
import { loadSnapshotEntries } from './transfer/snapshot-manifest.ts';
import { reconcileTree } from './watcher/reconcile.ts';

/**
 * Keeps the agent's watchers and snapshots in step with the coordinator. After each connect it
 * fetches the configs, makes the watcher set match them, requests a full push of each config
 * without a snapshot, and reconciles the others with their last snapshot.
 */
export class ConfigSync {
  private readonly context: AgentContext;
  private readonly registry: ConfigRegistry;
  private readonly runs: RunQueue;
  private readonly reporter: ChangeReporter;
  private synchronizing: Promise<void> = Promise.resolve();
  private reconciling: Promise<void> = Promise.resolve();
  /** The pending or running reconcile of each config, until it has ended. */
  private readonly reconciles = new Map<number, Promise<void>>();

  constructor(
    context: AgentContext,
    registry: ConfigRegistry,
    runs: RunQueue,
    reporter: ChangeReporter,
  ) {
    this.context = context;
    this.registry = registry;
    this.runs = runs;
    this.reporter = reporter;
  }

  /** Starts a synchronization after a connect, behind any synchronization still running. */
  onConnected(): void {
    this.synchronizing = this.synchronizing.then(() =>
      this.syncAll().catch((error: unknown) => {
        this.context.logger.error(
          { resourceId: this.context.resourceId, err: error },
          'synchronizing configs failed',
        );
      }),
    );
  }

  /**
   * Resolves once the synchronization after the last connect, and the config's reconcile, have
   * ended and the changes found were sent, so that a backup run claimed next includes them.
   */
  async beforeBackup(configId: number): Promise<void> {
    await this.synchronizing;
    await this.reconciles.get(configId);
  }

  /**
   * Returns the hooks of a backup run of the config: wait for its reconcile, rehash returned roots.
   */
  backupHooks(configId: number): BackupHooks {
    return {
      beforeClaim: () => this.beforeBackup(configId),
      rehashRoots: () => [...(this.registry.get(configId)?.rehashRoots ?? [])],
      committed: (rehashed) => {
        const pending = this.registry.get(configId)?.rehashRoots;
        for (const root of rehashed) pending?.delete(root);
      },
    };
  }

  /** Resolves once no synchronization or reconcile is running. */
  async idle(): Promise<void> {
    await this.synchronizing;
    await this.reconciling;
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
    this.context.logger.info(
      { resourceId: this.context.resourceId, configs: backupConfigs.length },
      'configs synchronized',
    );
    await this.reporter.flush();
  }

  /** Serves a config from an `add_config` or `update_config` action. */
  async apply(config: AgentBackupConfig, pathsChanged: boolean): Promise<void> {
    const outcome = await this.registry.upsert(config);
    this.reporter.setRoots(config.id, this.registry.get(config.id)!.filter.roots);
    await this.prepare(config, outcome, pathsChanged);
  }

  /** Stops serving a config and removes its watcher, its unsent changes and its cached manifest. */
  async drop(configId: number): Promise<void> {
    await this.registry.remove(configId);
    this.reporter.forget(configId);
    await this.context.manifests.remove(configId);
  }

  /**
   * Requests a full push when the config has no snapshot or its paths changed, because new paths
   * must be backed up whole. Otherwise queues a reconcile with the last snapshot.
   */
  private async prepare(
    config: AgentBackupConfig,
    outcome: UpsertOutcome,
    pathsChanged: boolean,
  ): Promise<void> {
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
    const task = backupTask(this.context, runId, config.id, this.backupHooks(config.id));
    this.runs.backup(config.id, runId, task).catch((error: unknown) => {
      this.context.logger.error(
        { configId: config.id, runId, err: error },
        'full backup could not start',
      );
    });
  }

  /**
   * Queues a reconcile of the config unless one is waiting or running. Reconciles run one at a
   * time.
   */
  private queueReconcile(config: AgentBackupConfig): void {
    if (this.reconciles.has(config.id)) return;

    const done = this.reconciling.then(async () => {
      try {
        await this.reconcile(config.id);
      } catch (error) {
        this.context.logger.error({ configId: config.id, err: error }, 'reconcile failed');
      } finally {
        this.reconciles.delete(config.id);
      }
    });
    this.reconciles.set(config.id, done);
    this.reconciling = done;
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

    await this.reporter.report(configId, result.changes);
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
