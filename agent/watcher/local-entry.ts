import fs from 'node:fs/promises';
import type { Stats } from 'node:fs';
import type { ManifestEntry } from '../../src/protocol/manifest.ts';

/** A manifest entry as read from the disk, before its content is hashed. */
export type LocalEntry = Omit<ManifestEntry, 'hash' | 'blob'>;

/** The entry types a manifest stores; other file types (sockets, FIFOs, devices) are skipped. */
export type LocalEntryType = LocalEntry['type'];

/** Returns the manifest type of lstat results, or null for sockets, FIFOs and devices. */
export function entryTypeOf(stats: Stats): LocalEntryType | null {
  if (stats.isSymbolicLink()) return 'symlink';
  if (stats.isDirectory()) return 'dir';
  if (stats.isFile()) return 'file';
  return null;
}

/**
 * Builds the entry of `absolutePath` from its lstat results. A symlink's target is read with
 * readlink, so the link is never followed. Folders get size 0, and `mode` keeps only the
 * permission bits.
 */
export async function entryFromStats(
  absolutePath: string,
  stats: Stats,
): Promise<LocalEntry | null> {
  const type = entryTypeOf(stats);
  if (type === null) return null;

  const entry: LocalEntry = {
    path: absolutePath,
    type,
    size: type === 'dir' ? 0 : stats.size,
    mode: stats.mode & 0o7777,
    mtimeMs: stats.mtimeMs,
  };
  if (type === 'symlink') entry.target = await fs.readlink(absolutePath);
  return entry;
}

/** True when two entries describe the same type, size, mtime, mode and symlink target. */
export function sameMetadata(a: LocalEntry, b: LocalEntry): boolean {
  if (a.type !== b.type || a.mode !== b.mode) return false;
  if (a.type === 'dir') return true;
  return a.size === b.size && a.mtimeMs === b.mtimeMs && a.target === b.target;
}
