import type { Readable } from 'node:stream';
import { SyncctlError } from '../../src/protocol/errors.ts';
import type { SyncEntry } from '../../src/protocol/agent-api.ts';
import { objectKey } from '../../src/protocol/manifest.ts';
import { recordBlobs, missingBlobs } from './blobs.ts';
import { getCompany } from './companies.ts';
import type { ResourceRow } from './resources.ts';
import { nowIso } from './secrets.ts';
import type { ServiceDeps } from './service-deps.ts';
import { loadSyncConfigRow, type SyncConfigRow } from './sync-config-rows.ts';
import { applySyncScan, recordSyncEntries } from './sync-state.ts';

/** Loads a sync config whose source is the calling resource. */
async function sourceConfig(deps: ServiceDeps, resource: ResourceRow, configId: number): Promise<SyncConfigRow> {
  const config = await loadSyncConfigRow(deps, configId);
  if (config.company_id !== resource.company_id || config.resource_id !== resource.id) {
    throw new SyncctlError('forbidden', `Resource ${resource.id} is not the source of sync config ${configId}`);
  }
  if (config.deleted === 1 || config.enable !== 1) throw new SyncctlError('conflict', `Sync config ${configId} is disabled or deleted`);
  return config;
}

/**
 * Stores a file's content sent by the source (streamed, checked against its SHA-256) unless the
 * bucket has it already, then records the file and fans it out to the destinations.
 */
export async function uploadSyncContent(deps: ServiceDeps, resource: ResourceRow, configId: number, entry: SyncEntry, body: Readable | null): Promise<{ stored: boolean; changed: number }> {
  const config = await sourceConfig(deps, resource, configId);
  if (entry.type !== 'file' || entry.hash === null) {
    throw new SyncctlError('invalidInput', `Upload of "${entry.path}" needs type "file" and its "hash"`);
  }
  const company = await getCompany(deps, resource.company_id);
  const key = objectKey(entry.hash);
  let stored = false;
  if ((await missingBlobs(deps, company.id, [entry.hash])).length > 0) {
    if (body === null) throw new SyncctlError('invalidInput', `Content ${entry.hash} of "${entry.path}" is not stored yet; send it as the request body`);
    const { size } = await deps.store.putObjectStream(company.bucket, key, body);
    await recordBlobs(deps, company.id, [{ hash: entry.hash, key, offset: 0, length: size }]);
    stored = true;
  } else {
    body?.resume();
  }
  const changed = await recordSyncEntries(deps, config, [entry]);
  return { stored, changed };
}

export async function recordSourceEvents(deps: ServiceDeps, resource: ResourceRow, configId: number, events: SyncEntry[]): Promise<number> {
  const config = await sourceConfig(deps, resource, configId);
  const company = await getCompany(deps, resource.company_id);
  const hashes = events.filter((e) => e.type === 'file' && e.hash !== null).map((e) => e.hash as string);
  const missing = await missingBlobs(deps, company.id, hashes);
  if (missing.length > 0) {
    throw new SyncctlError('invalidInput', `Content ${missing[0]} is not stored yet; upload it with POST /uploadv2ForSync`);
  }
  return recordSyncEntries(deps, config, events);
}

export async function recordSourceScan(deps: ServiceDeps, resource: ResourceRow, configId: number, roots: string[], entries: Omit<SyncEntry, 'hash'>[]): Promise<string[]> {
  const config = await sourceConfig(deps, resource, configId);
  const changed = await applySyncScan(deps, config, roots, entries);
  deps.logger.info({ configId, resourceId: resource.id, entries: entries.length, changed: changed.length }, 'sync scan compared');
  return changed;
}

export interface AppliedReport {
  configId: number;
  sourcePath: string;
  version: number;
  error: string | null;
  conflictPath: string | null;
}

/** Records a destination's result for one path: applied, failed with an error, or a conflict kept aside. */
export async function recordApplied(deps: ServiceDeps, resource: ResourceRow, report: AppliedReport): Promise<void> {
  const config = await loadSyncConfigRow(deps, report.configId);
  if (config.company_id !== resource.company_id) throw new SyncctlError('forbidden', `Sync config ${report.configId} belongs to another company`);

  const now = nowIso();
  const base = deps.db.updateTable('sync_deliveries').where('config_id', '=', config.id).where('resource_id', '=', resource.id).where('path', '=', report.sourcePath);
  if (report.error === null) {
    await base.set({ applied_version: report.version, error: null, updated_at: now }).where('version', '<=', report.version).execute();
  } else {
    await base.set({ error: report.error, updated_at: now }).execute();
    deps.logger.warn({ configId: config.id, resourceId: resource.id, path: report.sourcePath, version: report.version, error: report.error }, 'sync delivery failed');
  }
  if (report.conflictPath !== null) {
    await deps.db.insertInto('sync_conflicts').values({ config_id: config.id, resource_id: resource.id, path: report.sourcePath, conflict_path: report.conflictPath, created_at: now }).execute();
    deps.logger.warn({ configId: config.id, resourceId: resource.id, path: report.sourcePath, conflictPath: report.conflictPath }, 'sync conflict: local version kept aside');
  }
}
