import fs from 'node:fs/promises';
import path from 'node:path';
import type { SyncDelivery } from '../../src/protocol/actions.ts';
import type { AgentContext } from '../agent-context.ts';
import { describeError, isNotFound } from '../fs-error-code.ts';
import { hashFile } from '../transfer/hash-file.ts';
import { SafeTargetResolver } from '../transfer/safe-target.ts';
import { conflictPath } from './conflict-name.ts';
import { downloadWithUrl } from './download-file.ts';
import type { SyncRecords } from './sync-records.ts';

export interface ApplyResult {
  target: string | null;
  error: string | null;
  conflictPath: string | null;
  /** True when the delivery was refused for its path; sending it again cannot succeed. */
  rejected?: boolean;
}

/**
 * Brings one path on this destination to the source's state and reports the result. The path
 * is resolved under the delivery's root and rejected if it would leave it.
 */
export async function applyDelivery(context: AgentContext, records: SyncRecords, delivery: SyncDelivery): Promise<ApplyResult> {
  let result: ApplyResult;
  try {
    result = await applyOnDisk(context, records, delivery);
  } catch (error) {
    result = { target: null, error: describeError(error), conflictPath: null };
  }

  const log = { configId: delivery.configId, path: delivery.sourcePath, version: delivery.version, type: delivery.type, target: result.target };
  if (result.error) context.logger.warn({ ...log, error: result.error }, 'sync delivery failed');
  else context.logger.info({ ...log, conflictPath: result.conflictPath }, 'sync delivery applied');
  await context.client.post('/agent/sync/applied', {
    configId: delivery.configId,
    sourcePath: delivery.sourcePath,
    version: delivery.version,
    error: result.error,
    conflictPath: result.conflictPath,
  }, { idempotent: true });
  return result;
}

async function applyOnDisk(context: AgentContext, records: SyncRecords, delivery: SyncDelivery): Promise<ApplyResult> {
  const resolver = new SafeTargetResolver(delivery.root);
  const resolved = await resolver.resolve(`/${delivery.relativePath}`);
  if (!resolved.ok) {
    return { target: null, error: `Rejected sync path "${delivery.relativePath}" under "${delivery.root}": ${resolved.reason}`, conflictPath: null, rejected: true };
  }
  const target = resolved.path;

  switch (delivery.type) {
    case 'dir': {
      // The last component is checked too: chmod would follow a symlink out of the root.
      const current = await fs.lstat(target).catch(() => null);
      if (current !== null && !current.isDirectory()) {
        return { target, error: `Rejected sync folder "${target}": a ${current.isSymbolicLink() ? 'symlink' : 'file'} is in its place on this destination`, conflictPath: null, rejected: true };
      }
      await fs.mkdir(target, { recursive: true });
      if (delivery.mode) await fs.chmod(target, delivery.mode);
      return { target, error: null, conflictPath: null };
    }
    case 'symlink':
      await fs.mkdir(path.dirname(target), { recursive: true });
      await replaceWithSymlink(target, delivery.target ?? '');
      await fs.lutimes(target, new Date(), new Date(delivery.mtimeMs));
      const link = await fs.lstat(target);
      records.set(target, { size: link.size, mtimeMs: link.mtimeMs, hash: null });
      return { target, error: null, conflictPath: null };
    case 'file':
      return writeFile(context, records, delivery, target);
    case 'deleted':
      await removePath(records, target);
      return { target, error: null, conflictPath: null };
  }
}

async function replaceWithSymlink(target: string, linkTarget: string): Promise<void> {
  const current = await fs.lstat(target).catch(() => null);
  if (current?.isSymbolicLink() && (await fs.readlink(target)) === linkTarget) return;
  if (current?.isDirectory()) await fs.rm(target, { recursive: true });
  else if (current) await fs.unlink(target);
  await fs.symlink(linkTarget, target);
}

/** Returns where the local copy was kept when it changed since the last sync wrote it, else null. */
async function keepLocalEdit(records: SyncRecords, target: string, incomingHash: string | null): Promise<string | null> {
  const current = await fs.lstat(target).catch((error: unknown) => {
    if (isNotFound(error)) return null;
    throw error;
  });
  if (!current || !current.isFile()) return null;
  if (records.matches(target, current.size, current.mtimeMs)) return null;

  const local = await hashFile(target);
  if (local.hash === incomingHash) return null;
  const kept = conflictPath(target, new Date());
  await fs.rename(target, kept);
  return kept;
}

async function writeFile(context: AgentContext, records: SyncRecords, delivery: SyncDelivery, target: string): Promise<ApplyResult> {
  if (!delivery.key || !delivery.hash) return { target, error: `Delivery of "${delivery.sourcePath}" has no content key`, conflictPath: null };
  await fs.mkdir(path.dirname(target), { recursive: true });

  const existing = await fs.lstat(target).catch(() => null);
  if (existing?.isDirectory()) await fs.rm(target, { recursive: true });
  if (existing?.isSymbolicLink()) await fs.unlink(target);
  if (existing?.isFile() && existing.size === delivery.size && records.get(target)?.hash === delivery.hash && records.matches(target, existing.size, existing.mtimeMs)) {
    await fs.chmod(target, delivery.mode);
    await fs.utimes(target, new Date(), new Date(delivery.mtimeMs));
    const after = await fs.stat(target);
    records.set(target, { size: after.size, mtimeMs: after.mtimeMs, hash: delivery.hash });
    return { target, error: null, conflictPath: null };
  }

  const kept = await keepLocalEdit(records, target, delivery.hash);
  await downloadWithUrl(context, delivery.url, { key: delivery.key, hash: delivery.hash, target, mode: delivery.mode, mtimeMs: delivery.mtimeMs });
  const after = await fs.stat(target);
  records.set(target, { size: after.size, mtimeMs: after.mtimeMs, hash: delivery.hash });
  return { target, error: null, conflictPath: kept };
}

/**
 * Removes a path the source deleted. A file the sync did not write, or that changed here since it
 * wrote it, is kept, and so is a folder that still contains such files.
 */
async function removePath(records: SyncRecords, target: string): Promise<void> {
  const current = await fs.lstat(target).catch(() => null);
  if (!current) return;
  if (current.isDirectory()) {
    await removeFolder(records, target);
    return;
  }
  // Only what the sync wrote and nobody changed since is removed: local files and conflict copies stay.
  if (!records.matches(target, current.size, current.mtimeMs)) return;
  await fs.unlink(target).catch(ignoreNotFound);
  records.delete(target);
}

async function removeFolder(records: SyncRecords, folder: string): Promise<void> {
  const names = await fs.readdir(folder).catch((error: unknown) => (isNotFound(error) ? [] : Promise.reject(error)));
  for (const name of names) await removePath(records, path.join(folder, name));
  const left = await fs.readdir(folder).catch((error: unknown) => (isNotFound(error) ? null : Promise.reject(error)));
  if (left !== null && left.length === 0) await fs.rmdir(folder).catch(ignoreNotFound);
}

function ignoreNotFound(error: unknown): void {
  if (!isNotFound(error)) throw error;
}
