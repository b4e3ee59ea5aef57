import path from 'node:path';
import type { Logger } from '../src/logger.ts';
import { ActionDispatcher } from './action-dispatch.ts';
import type { AgentContext } from './agent-context.ts';
import { ChangeReporter } from './change-reporter.ts';
import { ConfigRegistry } from './config-registry.ts';
import { ConfigSync } from './config-sync.ts';
import { SyncManager } from './sync/sync-manager.ts';
import { AgentConnection } from './connection.ts';
import { CoordinatorClient } from './coordinator-client.ts';
import { loadOrEnroll } from './enroll.ts';
import { ManifestCache } from './manifest-cache.ts';
import { IdleCollection } from './idle-collection.ts';
import { RunQueue } from './run-queue.ts';

export interface AgentOptions {
  /**
   * The installer file `syncctl-agent-company-<id>.json`; needed only until the agent is enrolled.
   */
  installerPath?: string;
  /** Folder of the state file, the manifest cache and scratch files; created with mode 0700. */
  stateDir: string;
  /** Resource name used at enrollment; defaults to the host name. */
  name?: string;
  logger: Logger;
}

export interface RunningAgent {
  resourceId: number;
  /**
   * Disconnects, aborts running backups and restores (each is marked failed), and stops the
   * watchers.
   */
  stop(): Promise<void>;
}

/**
 * Starts an agent. It enrolls with the installer if its state folder contains no state file yet,
 * then connects to the coordinator and serves its backup configs until `stop`. A coordinator that
 * cannot be reached after enrollment is retried in the background. Throws a SyncctlError with
 * code invalidInput for an invalid installer or state file.
 */
export async function startAgent(options: AgentOptions): Promise<RunningAgent> {
  const { logger } = options;
  const stateDir = path.resolve(options.stateDir);
  logger.info({ stateDir }, 'agent starting');

  const state = await loadOrEnroll({ ...options, stateDir });
  const client = new CoordinatorClient({
    baseUrl: state.coordinatorUrl,
    token: state.token,
    onRetry: (retry) => logger.warn(retry, 'coordinator request failed; retrying'),
  });
  const manifests = new ManifestCache(stateDir);
  await manifests.prepare();

  const reporter = new ChangeReporter(client, logger);
  const context: AgentContext = {
    client,
    token: state.token,
    resourceId: state.resourceId,
    companyId: state.companyId,
    stateDir,
    manifests,
    logger,
    alwaysExcluded: [stateDir],
    reportChanges: (configId, changes) => void reporter.report(configId, changes),
  };
  const registry = new ConfigRegistry(context);
  const runs = new RunQueue(new IdleCollection(logger));
  const sync = new ConfigSync(context, registry, runs, reporter);
  const syncs = new SyncManager(context);
  await syncs.load();
  const dispatcher = new ActionDispatcher(context, sync, runs, syncs);

  const connection = new AgentConnection({
    coordinatorUrl: state.coordinatorUrl,
    token: state.token,
    resourceId: state.resourceId,
    logger,
    onConnected: () => {
      sync.onConnected();
      syncs.onConnected();
    },
    handleAction: (actionId, action) => dispatcher.handle(actionId, action),
  });
  connection.start();
  logger.info(
    {
      resourceId: state.resourceId,
      companyId: state.companyId,
      coordinatorUrl: state.coordinatorUrl,
      name: state.name,
    },
    'agent started',
  );

  let stopping: Promise<void> | null = null;
  async function stopAgent(): Promise<void> {
    await connection.stop();
    await runs.stop();
    await sync.idle();
    await registry.closeAll();
    await syncs.close();
    logger.info({ resourceId: state.resourceId }, 'agent stopped');
  }
  return {
    resourceId: state.resourceId,
    stop: () => (stopping ??= stopAgent()),
  };
}
