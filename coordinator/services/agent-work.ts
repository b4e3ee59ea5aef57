import { SyncctlError, invalidInput } from '../../src/protocol/errors.ts';
import type { AgentConfigsResponse, RunStart, SignedUrls } from '../../src/protocol/agent-api.ts';
import { commitRunSchema, restoreCommitSchema } from '../../src/protocol/runs.ts';
import { parseInput } from '../../src/protocol/validation.ts';
import type { RunProgress, RunView } from '../../src/protocol/runs.ts';
import { loadConfigRow, toAgentConfig } from './backup-config-rows.ts';
import { commitBackupRun, failRunRow, recordRunProgress, requestBackupRun, startBackupRun } from './backup-runs.ts';
import { getCompany } from './companies.ts';
import { mappedResourceIds } from './config-mappings.ts';
import { recordPendingChanges, type PendingChange } from './pending-changes.ts';
import { commitRestoreRun, startRestoreRun } from './restores.ts';
import type { ResourceRow } from './resources.ts';
import { loadResourceRun, toRunView } from './run-rows.ts';
import { syncConfigsOfSource } from './sync-config-rows.ts';
import { signedUrlTtlSeconds, type ServiceDeps } from './service-deps.ts';

/** Lists the enabled backup configs that apply to the calling resource and the sync configs it is the source of. */
export async function configsForResource(deps: ServiceDeps, resource: ResourceRow): Promise<AgentConfigsResponse> {
  const rows = await deps.db
    .selectFrom('backup_configs')
    .innerJoin('resource_config_mappings', 'resource_config_mappings.config_id', 'backup_configs.id')
    .selectAll('backup_configs')
    .where('resource_config_mappings.resource_id', '=', resource.id)
    .where('backup_configs.deleted', '=', 0)
    .where('backup_configs.enable', '=', 1)
    .orderBy('backup_configs.id')
    .execute();
  const backupConfigs = [];
  for (const row of rows) backupConfigs.push(await toAgentConfig(deps, row, resource.id));
  const syncConfigs = await syncConfigsOfSource(deps, resource.id);
  return { resourceId: resource.id, companyId: resource.company_id, backupConfigs, syncConfigs };
}

async function assertConfigApplies(deps: ServiceDeps, resource: ResourceRow, configId: number): Promise<void> {
  const config = await loadConfigRow(deps, configId);
  const applies = config.company_id === resource.company_id && (await mappedResourceIds(deps, configId)).includes(resource.id);
  if (!applies) throw new SyncctlError('forbidden', `Backup config ${configId} does not apply to resource ${resource.id}`);
  if (config.deleted === 1 || config.enable !== 1) throw new SyncctlError('conflict', `Backup config ${configId} is disabled or deleted`);
}

export async function reportChanges(deps: ServiceDeps, resource: ResourceRow, configId: number, changes: PendingChange[]): Promise<void> {
  await assertConfigApplies(deps, resource, configId);
  await recordPendingChanges(deps, configId, resource.id, changes);
  deps.logger.debug({ configId, resourceId: resource.id, changes: changes.length }, 'changes recorded');
}

export async function requestAgentRun(deps: ServiceDeps, resource: ResourceRow, configId: number, full: boolean): Promise<RunView> {
  await assertConfigApplies(deps, resource, configId);
  return requestBackupRun(deps, { configId, resourceId: resource.id, trigger: full ? 'initial' : 'manual', full });
}

export async function startAgentRun(deps: ServiceDeps, resource: ResourceRow, runId: number): Promise<RunStart> {
  const run = await loadResourceRun(deps, resource.id, runId);
  if (run.status !== 'queued' && run.status !== 'running') {
    throw new SyncctlError('conflict', `Run ${runId} is ${run.status}; there is nothing left to do`);
  }
  return run.kind === 'backup' ? startBackupRun(deps, run) : startRestoreRun(deps, run);
}

export async function agentRunProgress(deps: ServiceDeps, resource: ResourceRow, runId: number, progress: RunProgress): Promise<void> {
  await recordRunProgress(deps, await loadResourceRun(deps, resource.id, runId), progress);
}

export async function commitAgentRun(deps: ServiceDeps, resource: ResourceRow, runId: number, body: unknown): Promise<RunView> {
  const run = await loadResourceRun(deps, resource.id, runId);
  if (run.kind === 'backup') return commitBackupRun(deps, run, parseInput(commitRunSchema, body, 'request body'));
  return commitRestoreRun(deps, run, parseInput(restoreCommitSchema, body, 'request body'));
}

export async function failAgentRun(deps: ServiceDeps, resource: ResourceRow, runId: number, message: string): Promise<RunView> {
  const run = await loadResourceRun(deps, resource.id, runId);
  if (run.status === 'queued' || run.status === 'running') await failRunRow(deps, run, message);
  return toRunView(await loadResourceRun(deps, resource.id, runId));
}

const agentWritablePrefixes = ['packs/', 'objects/'];
const agentReadablePrefixes = ['packs/', 'objects/', 'snapshots/'];

/**
 * Signs URLs for keys of the resource's company bucket. Agents may write contents and their own
 * manifests, and read contents and manifests; installers and other buckets are out of reach.
 */
export async function signAgentUrls(deps: ServiceDeps, resource: ResourceRow, put: string[], get: string[]): Promise<SignedUrls> {
  const company = await getCompany(deps, resource.company_id);
  const result: SignedUrls = { put: {}, get: {} };
  for (const key of put) {
    const ownManifest = key.startsWith('snapshots/') && key.includes(`/resource-${resource.id}/`);
    if (!ownManifest && !agentWritablePrefixes.some((prefix) => key.startsWith(prefix))) {
      throw invalidInput(`Key "${key}" in "put" is not writable by agents; use packs/, objects/ or the run's manifest key`);
    }
    result.put[key] = deps.store.signUrl(company.bucket, key, 'put', signedUrlTtlSeconds);
  }
  for (const key of get) {
    if (!agentReadablePrefixes.some((prefix) => key.startsWith(prefix))) {
      throw invalidInput(`Key "${key}" in "get" is not readable by agents; use packs/, objects/ or snapshots/`);
    }
    result.get[key] = deps.store.signUrl(company.bucket, key, 'get', signedUrlTtlSeconds);
  }
  return result;
}
