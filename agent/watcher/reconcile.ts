import path from 'node:path';
import { isSameOrInside } from '../../src/protocol/paths.ts';
import type { LocalEntry } from './local-entry.ts';
import { sameMetadata } from './local-entry.ts';
import type { PathChange } from './path-change.ts';
import type { PathFilter } from './path-filter.ts';
import { walkTree } from './tree-walk.ts';

export interface ReconcileResult {
  /**
   * Paths that differ from the snapshot. A new or removed folder is listed without its contents,
   * because a run walks a changed folder whole.
   */
  changes: PathChange[];
  /**
   * Include roots that do not exist. Their snapshot entries count as unchanged, never as deleted.
   */
  missingRoots: string[];
  /** Paths that could not be read. Snapshot entries at or below them count as unchanged. */
  unreadable: Array<{ path: string; message: string }>;
}

/**
 * Walks the config's include roots and compares the tree with the entries of the last snapshot
 * by type, size, mtime, mode and symlink target, so that changes made while the agent was not
 * watching become pending changes. Folder mtimes are not compared, since they change exactly
 * when an entry inside is added or removed, and that entry is reported itself.
 */
export async function reconcileTree(
  filter: PathFilter,
  snapshot: ReadonlyMap<string, LocalEntry>,
): Promise<ReconcileResult> {
  const seen = new Set<string>();
  const added = new Map<string, LocalEntry>();
  const changed: LocalEntry[] = [];
  const missingRoots: string[] = [];
  const unreadable: ReconcileResult['unreadable'] = [];

  for (const root of filter.roots) {
    for await (const event of walkTree(root, { includes: filter.includes })) {
      if (event.type === 'missing') missingRoots.push(event.path);
      if (event.type === 'unreadable') {
        unreadable.push({ path: event.path, message: event.message });
      }
      if (event.type !== 'entry') continue;

      const { entry } = event;
      seen.add(entry.path);
      const before = snapshot.get(entry.path);
      if (before === undefined) added.set(entry.path, entry);
      else if (!sameMetadata(before, entry)) changed.push(entry);
    }
  }

  const kept = [...missingRoots, ...unreadable.map((item) => item.path)];
  const removed = new Map<string, LocalEntry>();
  for (const [entryPath, entry] of snapshot) {
    if (seen.has(entryPath) || !filter.includes(entryPath)) continue;
    if (kept.some((keptPath) => isSameOrInside(keptPath, entryPath))) continue;
    removed.set(entryPath, entry);
  }

  const changes: PathChange[] = [];
  for (const entry of topmost(added)) {
    changes.push({ path: entry.path, kind: entry.type === 'dir' ? 'addDir' : 'add' });
  }
  for (const entry of changed) changes.push({ path: entry.path, kind: 'change' });
  for (const entry of topmost(removed)) {
    changes.push({ path: entry.path, kind: entry.type === 'dir' ? 'unlinkDir' : 'unlink' });
  }
  return { changes, missingRoots, unreadable };
}

/** Returns the entries whose parent folder is not itself in `entries`. */
function topmost(entries: ReadonlyMap<string, LocalEntry>): LocalEntry[] {
  const result: LocalEntry[] = [];
  for (const entry of entries.values()) {
    const parent = entries.get(path.dirname(entry.path));
    if (parent === undefined || parent.type !== 'dir' || parent.path === entry.path) {
      result.push(entry);
    }
  }
  return result;
}
