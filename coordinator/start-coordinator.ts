import fs from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { serve } from '@hono/node-server';
import type { Logger } from '../src/logger.ts';
import { loadAdminToken } from './admin-token.ts';
import { openDatabase } from './db/open-database.ts';
import { createApp } from './http/app.ts';
import { Relay } from './relay/relay.ts';
import { BackupScheduler, type FiredJob } from './scheduler/backup-scheduler.ts';
import { recordScheduleFired, rebuildAllJobs } from './services/backup-schedules.ts';
import { loadConfigRow } from './services/backup-config-rows.ts';
import { requestBackupRun } from './services/backup-runs.ts';
import { ackAction, unackedActions } from './services/outbox.ts';
import { authenticateResource, markAllResourcesOffline, markResourceOnline } from './services/resources.ts';
import { RunWaiters } from './services/run-waiters.ts';
import type { ServiceDeps } from './services/service-deps.ts';
import { LocalStore, loadSigningKey } from './store/local-store.ts';

export interface CoordinatorOptions {
  host: string;
  /** TCP port; 0 picks a free one. */
  port: number;
  dataDir: string;
  /** Admin token from the environment; when absent one is kept in the data folder. */
  adminToken?: string;
  /** URL agents use to reach this coordinator; defaults to http://HOST:PORT. */
  publicUrl?: string;
  heartbeatMs?: number;
  logger: Logger;
}

export interface RunningCoordinator {
  url: string;
  adminToken: string;
  adminTokenCreated: boolean;
  adminTokenFile: string | null;
  stop(): Promise<void>;
}

/** Starts the coordinator: database, store, scheduler, websocket relay and HTTP server. */
export async function startCoordinator(options: CoordinatorOptions): Promise<RunningCoordinator> {
  const { logger } = options;
  const dataDir = path.resolve(options.dataDir);
  await fs.mkdir(dataDir, { recursive: true, mode: 0o700 });
  await fs.chmod(dataDir, 0o700);

  const db = await openDatabase(dataDir);
  const admin = await loadAdminToken(dataDir, options.adminToken);
  const signingKey = await loadSigningKey(dataDir);
  let publicUrl = options.publicUrl ?? '';
  const store = new LocalStore({ root: path.join(dataDir, 'buckets'), publicUrl: () => publicUrl, signingKey });

  const relay = new Relay(logger, options.heartbeatMs ?? 10_000);
  const deps: ServiceDeps = {
    db,
    store,
    logger,
    publicUrl: '',
    relay,
    scheduler: new BackupScheduler((job) => void onScheduleFired(deps, job), logger),
    runWaiters: new RunWaiters(),
  };

  let ready = false;
  const app = createApp(deps, { adminToken: admin.token, transferStore: store, isReady: () => ready });
  const server = await listen(app.fetch, options.host, options.port);
  const address = server.address() as AddressInfo;
  publicUrl = options.publicUrl ?? `http://${formatHost(options.host)}:${address.port}`;
  deps.publicUrl = publicUrl;

  await markAllResourcesOffline(deps);
  relay.start(server, relayHandlers(deps));
  const jobs = await rebuildAllJobs(deps);
  ready = true;

  await writeRuntimeFile(dataDir, publicUrl);
  logger.info({ url: publicUrl, dataDir, jobs, store: store.kind }, 'coordinator started');

  return {
    url: publicUrl,
    adminToken: admin.token,
    adminTokenCreated: admin.created,
    adminTokenFile: admin.file,
    async stop() {
      ready = false;
      deps.scheduler.shutdown();
      await relay.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await markAllResourcesOffline(deps);
      await db.destroy();
      await fs.rm(path.join(dataDir, 'coordinator.json'), { force: true });
      logger.info({ url: publicUrl }, 'coordinator stopped');
    },
  };
}

function formatHost(host: string): string {
  if (host === '0.0.0.0' || host === '::') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

function listen(fetch: Parameters<typeof serve>[0]['fetch'], hostname: string, port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = serve({ fetch, hostname, port }, () => resolve(server as Server)) as Server;
    server.once('error', reject);
  });
}

async function writeRuntimeFile(dataDir: string, url: string): Promise<void> {
  const file = path.join(dataDir, 'coordinator.json');
  await fs.writeFile(`${file}.tmp`, `${JSON.stringify({ url, pid: process.pid })}\n`, { mode: 0o600 });
  await fs.rename(`${file}.tmp`, file);
}

function relayHandlers(deps: ServiceDeps) {
  return {
    async authenticate(token: string) {
      const resource = await authenticateResource(deps, token);
      return resource ? { resourceId: resource.id, companyId: resource.company_id } : null;
    },
    async connected(resourceId: number) {
      await markResourceOnline(deps, resourceId, true);
      return unackedActions(deps, resourceId);
    },
    async disconnected(resourceId: number) {
      await markResourceOnline(deps, resourceId, false);
    },
    async acked(resourceId: number, actionId: number) {
      await ackAction(deps, resourceId, actionId);
    },
  };
}

/** A due backup queues a run; the outbox delivers it now, or when the agent reconnects. */
async function onScheduleFired(deps: ServiceDeps, job: FiredJob): Promise<void> {
  try {
    await recordScheduleFired(deps, job.configId, job.resourceId, job.firedAt);
    const config = await loadConfigRow(deps, job.configId);
    if (config.deleted === 1 || config.enable !== 1) return;
    await requestBackupRun(deps, { configId: job.configId, resourceId: job.resourceId, trigger: 'schedule', full: false });
  } catch (error) {
    deps.logger.error({ err: error, configId: job.configId, resourceId: job.resourceId }, 'scheduled backup could not be queued');
  }
}
