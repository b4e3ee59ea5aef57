import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import pino from 'pino';
import { startAgent } from '../../../agent/start-agent.ts';
import { startCoordinator } from '../../../coordinator/start-coordinator.ts';
import type { BackupConfig } from '../../protocol/backup-config.ts';
import type { LoginResult, RegisterCompanyResult } from '../../protocol/company.ts';
import { installerFileName } from '../../protocol/company.ts';
import { invalidInput } from '../../protocol/errors.ts';
import type { ResourceView } from '../../protocol/resource.ts';
import type { SnapshotView } from '../../protocol/runs.ts';
import { createLogger } from '../../logger.ts';
import { ApiClient } from '../api-client.ts';
import { saveCredentials } from '../credentials.ts';
import { parsePositiveInt, type GlobalOptions } from '../context.ts';
import { formatBytes, printResult } from '../output.ts';
import { waitForStopSignal } from '../stop-signal.ts';
import { defaultDataDir } from './coordinator-start.ts';

export interface QuickstartOptions {
  dataDir?: string;
  port: string;
}

interface QuickstartState {
  companyId: number;
  email: string;
  password: string;
}

const quickstartEmail = 'quickstart@localhost.localdomain';

/**
 * Runs the whole backup loop on this machine: a coordinator with SQLite and the local store, a
 * company and user, an enrolled agent, a daily backup of `target` and its first snapshot.
 */
export async function quickstart(target: string, options: QuickstartOptions, globals: GlobalOptions): Promise<void> {
  const json = globals.json === true;
  const root = path.resolve(target);
  const stat = await fs.stat(root).catch(() => null);
  if (!stat?.isDirectory()) throw invalidInput(`Path "${target}" is not a folder; give a folder to back up, such as ~/Documents`);

  const dataDir = path.resolve(options.dataDir ?? path.join(defaultDataDir(), 'quickstart'));
  await fs.mkdir(dataDir, { recursive: true, mode: 0o700 });
  const say = (text: string) => !json && process.stderr.write(`${text}\n`);

  const coordinatorLog = pino.destination({ dest: path.join(dataDir, 'coordinator.log'), sync: false, mkdir: true });
  const coordinator = await startCoordinator({
    host: '127.0.0.1',
    port: options.port === '0' ? 0 : parsePositiveInt(options.port, '--port'),
    dataDir: path.join(dataDir, 'coordinator'),
    logger: createLogger('coordinator', coordinatorLog),
  });
  say(`Coordinator listening on ${coordinator.url} (data in ${dataDir})`);

  const state = await ensureCompany(coordinator.url, coordinator.adminToken, dataDir);
  const client = await loginQuickstartUser(coordinator.url, state);
  const installer = await downloadInstaller(client, state.companyId, dataDir);

  const agentLog = pino.destination({ dest: path.join(dataDir, 'agent.log'), sync: false, mkdir: true });
  const agent = await startAgent({ installerPath: installer, stateDir: path.join(dataDir, 'agent'), name: 'quickstart', logger: createLogger('agent', agentLog) });
  say(`Agent enrolled as resource ${agent.resourceId}`);

  const config = await ensureConfig(client, state.companyId, agent.resourceId, root);
  say(`Backup config ${config.id} backs up ${root} every day; taking the first snapshot...`);
  const snapshot = await waitForFirstSnapshot(client, state.companyId, config.id, agent.resourceId);

  const result = { server: coordinator.url, companyId: state.companyId, resourceId: agent.resourceId, configId: config.id, snapshotId: snapshot.id, files: snapshot.files, bytes: snapshot.bytes, dataDir };
  printResult(json, result, () => nextSteps(result, root));

  const signal = await waitForStopSignal();
  say(`Stopping (${signal})...`);
  await agent.stop();
  await coordinator.stop();
}

async function ensureCompany(server: string, adminToken: string, dataDir: string): Promise<QuickstartState> {
  const file = path.join(dataDir, 'quickstart.json');
  try {
    return JSON.parse(await fs.readFile(file, 'utf8')) as QuickstartState;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const password = randomBytes(18).toString('base64url');
  const admin = new ApiClient(server, adminToken);
  const company = await admin.request<RegisterCompanyResult>('POST', '/admin/registerCompany', { name: 'Quickstart', email: quickstartEmail, password });
  const state: QuickstartState = { companyId: company.companyId, email: quickstartEmail, password };
  await fs.writeFile(file, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  return state;
}

async function loginQuickstartUser(server: string, state: QuickstartState): Promise<ApiClient> {
  const session = await new ApiClient(server, null).request<LoginResult>('POST', '/auth/login', { email: state.email, password: state.password });
  await saveCredentials({ server, token: session.token, userId: session.userId, companyId: session.companyId, email: state.email });
  return new ApiClient(server, session.token);
}

async function downloadInstaller(client: ApiClient, companyId: number, dataDir: string): Promise<string> {
  const response = await client.send('GET', `/companies/${companyId}/installer`);
  if (!response.ok) await client.request('GET', `/companies/${companyId}/installer`);
  const file = path.join(dataDir, installerFileName(companyId));
  await fs.writeFile(file, await response.text(), { mode: 0o600 });
  return file;
}

async function ensureConfig(client: ApiClient, companyId: number, resourceId: number, root: string): Promise<BackupConfig> {
  const configs = await client.request<BackupConfig[]>('GET', `/companies/${companyId}/backup-configs`);
  const existing = configs.find((c) => c.resourceId === resourceId && c.pathDetails.includePaths.length === 1 && c.pathDetails.includePaths[0] === root);
  if (existing) {
    await client.request('POST', `/companies/${companyId}/backup-configs/${existing.id}/runs`, { resourceId });
    return existing;
  }
  return client.request<BackupConfig>('POST', `/companies/${companyId}/backup-configs`, {
    name: `quickstart ${path.basename(root) || root}`,
    resourceId,
    scheduleDetails: { scheduleType: 'DAYS', scheduleInterval: 1 },
    pathDetails: { includePaths: [root], excludePaths: [] },
  });
}

async function waitForFirstSnapshot(client: ApiClient, companyId: number, configId: number, resourceId: number): Promise<SnapshotView> {
  const before = await client.request<SnapshotView[]>('GET', `/companies/${companyId}/backup-configs/${configId}/snapshots?resourceId=${resourceId}`);
  const known = new Set(before.map((s) => s.id));
  for (;;) {
    const snapshots = await client.request<SnapshotView[]>('GET', `/companies/${companyId}/backup-configs/${configId}/snapshots?resourceId=${resourceId}`);
    const fresh = snapshots.filter((s) => !known.has(s.id));
    if (fresh.length > 0) return fresh[fresh.length - 1];
    const resources = await client.request<ResourceView[]>('GET', `/companies/${companyId}/resources`);
    if (!resources.some((r) => r.id === resourceId)) throw new Error(`Resource ${resourceId} disappeared`);
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
}

function nextSteps(result: { server: string; configId: number; resourceId: number; snapshotId: number; files: number; bytes: number; dataDir: string }, root: string): string {
  const restoreDir = path.join(result.dataDir, 'restore');
  return [
    `Snapshot ${result.snapshotId}: ${result.files} files, ${formatBytes(result.bytes)} from ${root}`,
    '',
    'Try next, in another terminal (you are logged in):',
    `  syncctl backup snapshots ${result.configId}`,
    `  syncctl backup run ${result.configId} --wait            # after changing files: uploads only what changed`,
    `  syncctl backup restore ${result.configId} --resource ${result.resourceId} --to ${restoreDir} --wait`,
    `  diff -r ${root} ${path.join(restoreDir, root)}`,
    '',
    `Logs: ${path.join(result.dataDir, 'coordinator.log')} and agent.log. Press Ctrl-C to stop.`,
  ].join('\n');
}
