import type { Selectable } from 'kysely';
import type { SyncDelivery } from '../../src/protocol/actions.ts';
import type { SyncEntry } from '../../src/protocol/agent-api.ts';
import { invalidInput } from '../../src/protocol/errors.ts';
import { objectKey } from '../../src/protocol/manifest.ts';
import { isSameOrInside } from '../../src/protocol/paths.ts';
import type { SyncDestination } from '../../src/protocol/sync-config.ts';
import type { SyncFilesTable } from '../db/schema.ts';
import { enqueueAction, supersedeActions } from './outbox.ts';
import { nowIso } from './secrets.ts';
import type { ServiceDeps } from './service-deps.ts';
import { includePathsOf, loadDestinations, type SyncConfigRow } from './sync-config-rows.ts';

type SyncFileRow = Selectable<SyncFilesTable>;

export function coalesceKey(configId: number, path: string): string {
  return `sync:${configId}:${path}`;
}

function sameState(current: SyncFileRow | undefined, entry: SyncEntry): boolean {
  if (!current) return entry.type === 'deleted';
  if (current.type !== entry.type) return false;
  if (entry.type === 'deleted') return true;
  if (current.mode !== entry.mode) return false;
  if (entry.type === 'symlink') return current.target === entry.target;
  if (entry.type === 'dir') return true;
  return current.hash === entry.hash && Math.abs(current.mtime_ms - entry.mtimeMs) < 1;
}

/** Picks the include path that contains `path`, the longest one when include paths nest. */
export function includeRootOf(includePaths: string[], path: string): string | null {
  let best: string | null = null;
  for (const root of includePaths) {
    if (isSameOrInside(root, path) && (best === null || root.length > best.length)) best = root;
  }
  return best;
}

/** Builds what one destination must do for one path: where to write it and what to write. */
export function deliveryFor(config: SyncConfigRow, destination: SyncDestination, state: SyncFileRow): SyncDelivery {
  const includeRoot = includeRootOf(includePathsOf(config), state.path) ?? state.path;
  const relativePath = state.path === includeRoot ? '' : state.path.slice(includeRoot.length + 1);
  return {
    configId: config.id,
    version: state.version,
    sourcePath: state.path,
    root: destination.targetDir ?? includeRoot,
    relativePath,
    type: state.type,
    hash: state.hash,
    size: state.size,
    mode: state.mode,
    mtimeMs: state.mtime_ms,
    target: state.target,
    key: state.type === 'file' && state.hash ? objectKey(state.hash) : null,
  };
}

async function nextVersion(deps: ServiceDeps, configId: number): Promise<number> {
  const row = await deps.db
    .selectFrom('sync_files')
    .select((eb) => eb.fn.max('version').as('max'))
    .where('config_id', '=', configId)
    .executeTakeFirst();
  return Number(row?.max ?? 0) + 1;
}

/** Sends one path's new state to every destination, replacing what they were still owed for it. */
async function fanOut(deps: ServiceDeps, config: SyncConfigRow, destinations: SyncDestination[], state: SyncFileRow): Promise<void> {
  const now = nowIso();
  for (const destination of destinations) {
    const key = coalesceKey(config.id, state.path);
    if (state.type === 'deleted') {
      // The folder's delete covers what was still owed below it.
      await supersedeActions(deps, destination.resourceId, key, true);
      await forgetDeliveriesBelow(deps, config.id, destination.resourceId, state.path);
    }
    await deps.db
      .insertInto('sync_deliveries')
      .values({ config_id: config.id, resource_id: destination.resourceId, path: state.path, version: state.version, applied_version: null, error: null, updated_at: now })
      .onConflict((conflict) => conflict.columns(['config_id', 'resource_id', 'path']).doUpdateSet({ version: state.version, updated_at: now }))
      .execute();
    await enqueueAction(deps, destination.resourceId, { kind: 'sync_apply', delivery: deliveryFor(config, destination, state) }, key);
  }
}

async function forgetDeliveriesBelow(deps: ServiceDeps, configId: number, resourceId: number, folder: string): Promise<void> {
  const prefix = `${folder}/`;
  await deps.db
    .deleteFrom('sync_deliveries')
    .where('config_id', '=', configId)
    .where('resource_id', '=', resourceId)
    .where((eb) => eb(eb.fn('substr', ['path', eb.val(1), eb.val(prefix.length)]), '=', prefix))
    .execute();
}

/**
 * Records the source's new state of some paths and fans out each path that changed. A deleted
 * folder takes the paths below it along, and only the folder's delete is sent.
 */
export async function recordSyncEntries(deps: ServiceDeps, config: SyncConfigRow, entries: SyncEntry[]): Promise<number> {
  const includePaths = includePathsOf(config);
  const destinations = await loadDestinations(deps, config.id);
  let version = await nextVersion(deps, config.id);
  let changed = 0;

  for (const entry of entries) {
    if (includeRootOf(includePaths, entry.path) === null) {
      throw invalidInput(`Path "${entry.path}" is outside the include paths of sync config ${config.id}`);
    }
    const current = await deps.db.selectFrom('sync_files').selectAll().where('config_id', '=', config.id).where('path', '=', entry.path).executeTakeFirst();
    if (sameState(current, entry)) continue;

    const state: SyncFileRow = {
      config_id: config.id,
      path: entry.path,
      version,
      type: entry.type,
      hash: entry.type === 'file' ? entry.hash : null,
      size: entry.type === 'file' ? entry.size : 0,
      mode: entry.mode,
      mtime_ms: entry.mtimeMs,
      target: entry.type === 'symlink' ? entry.target : null,
      updated_at: nowIso(),
    };
    version += 1;
    await upsertState(deps, state);
    if (entry.type === 'deleted') await markDescendantsDeleted(deps, config.id, entry.path, state.version);
    await fanOut(deps, config, destinations, state);
    changed += 1;
  }
  if (changed > 0) deps.logger.info({ configId: config.id, resourceId: config.resource_id, changed, destinations: destinations.length }, 'sync changes fanned out');
  return changed;
}

async function upsertState(deps: ServiceDeps, state: SyncFileRow): Promise<void> {
  const { config_id: _config, path: _path, ...rest } = state;
  await deps.db
    .insertInto('sync_files')
    .values(state)
    .onConflict((conflict) => conflict.columns(['config_id', 'path']).doUpdateSet(rest))
    .execute();
}

async function markDescendantsDeleted(deps: ServiceDeps, configId: number, folder: string, version: number): Promise<void> {
  const prefix = `${folder}/`;
  await deps.db
    .updateTable('sync_files')
    .set({ type: 'deleted', hash: null, size: 0, version, updated_at: nowIso() })
    .where('config_id', '=', configId)
    .where((eb) => eb(eb.fn('substr', ['path', eb.val(1), eb.val(prefix.length)]), '=', prefix))
    .where('type', '!=', 'deleted')
    .execute();
}

/**
 * Compares a full listing of the source's roots with the recorded state. Recorded paths under
 * those roots that the listing lacks are recorded deleted, and the paths that differ are returned
 * for the agent to hash and send.
 */
export async function applySyncScan(
  deps: ServiceDeps,
  config: SyncConfigRow,
  roots: string[],
  entries: Omit<SyncEntry, 'hash'>[],
): Promise<string[]> {
  const known = await deps.db.selectFrom('sync_files').selectAll().where('config_id', '=', config.id).where('type', '!=', 'deleted').execute();
  const byPath = new Map(known.map((row) => [row.path, row]));
  const listed = new Set<string>();
  const changed: string[] = [];

  for (const entry of entries) {
    listed.add(entry.path);
    const current = byPath.get(entry.path);
    const same =
      current !== undefined &&
      current.type === entry.type &&
      current.mode === entry.mode &&
      (entry.type !== 'file' || (current.size === entry.size && Math.abs(current.mtime_ms - entry.mtimeMs) < 1)) &&
      (entry.type !== 'symlink' || current.target === entry.target);
    if (!same) changed.push(entry.path);
  }

  const gone = known
    .filter((row) => !listed.has(row.path) && roots.some((root) => isSameOrInside(root, row.path)))
    .sort((a, b) => a.path.length - b.path.length);
  const deletions: SyncEntry[] = gone.map((row) => ({ path: row.path, type: 'deleted', hash: null, size: 0, mode: 0, mtimeMs: 0, target: null }));
  await recordSyncEntries(deps, config, deletions);
  return changed;
}

/** Sends the whole current state to a destination that was just added. */
export async function fanOutAllTo(deps: ServiceDeps, config: SyncConfigRow, destination: SyncDestination): Promise<void> {
  const rows = await deps.db.selectFrom('sync_files').selectAll().where('config_id', '=', config.id).where('type', '!=', 'deleted').orderBy('path').execute();
  for (const row of rows) await fanOut(deps, config, [destination], row);
}
