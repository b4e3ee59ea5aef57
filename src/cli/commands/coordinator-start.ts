import os from 'node:os';
import path from 'node:path';
import { startCoordinator } from '../../../coordinator/start-coordinator.ts';
import { createLogger } from '../../logger.ts';
import { parsePositiveInt } from '../context.ts';
import { waitForStopSignal } from '../stop-signal.ts';

export interface CoordinatorStartOptions {
  host: string;
  port: string;
  dataDir?: string;
}

export function defaultDataDir(): string {
  return process.env.SYNCCTL_DATA_DIR ?? path.join(os.homedir(), '.local', 'share', 'syncctl');
}

/** Runs the coordinator in the foreground until SIGINT or SIGTERM. */
export async function coordinatorStart(options: CoordinatorStartOptions): Promise<void> {
  const port = options.port === '0' ? 0 : parsePositiveInt(options.port, '--port');
  const logger = createLogger('coordinator');
  const heartbeat = process.env.SYNCCTL_HEARTBEAT_MS;
  const coordinator = await startCoordinator({
    host: options.host,
    port,
    dataDir: options.dataDir ?? defaultDataDir(),
    adminToken: process.env.SYNCCTL_ADMIN_TOKEN,
    publicUrl: process.env.SYNCCTL_PUBLIC_URL,
    heartbeatMs: heartbeat ? parsePositiveInt(heartbeat, 'SYNCCTL_HEARTBEAT_MS') : undefined,
    logger,
  });
  if (coordinator.adminTokenCreated) {
    process.stderr.write(`Admin token (saved in ${coordinator.adminTokenFile}, mode 0600):\n  ${coordinator.adminToken}\n`);
  }

  const signal = await waitForStopSignal();
  logger.info({ signal }, 'stopping coordinator');
  await coordinator.stop();
}
