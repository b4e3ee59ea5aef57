import fs from 'node:fs/promises';
import path from 'node:path';
import type { Stats } from 'node:fs';
import type { ManifestEntry } from '../../src/protocol/manifest.ts';
import { isSameOrInside, normalizeAbsolute } from '../../src/protocol/paths.ts';
import { describeError, isNotFound } from '../fs-error-code.ts';
import { entryFromStats, type LocalEntry } from '../watcher/local-entry.ts';
import type { PathChange } from '../watcher/path-change.ts';
import type { PathFilter } from '../watcher/path-filter.ts';
import { walkTree } from '../watcher/tree-walk.ts';
import { emptyContentHash } from './hash-file.ts';

/** More changed paths than this are examined by walking the include roots instead. */
const maxExaminedPaths = 2000;

/** The new snapshot's tree before file contents are read. */
export interface BackupTree {
  entries: Map<string, ManifestEntry>;
  /** Files whose content must be read and hashed; their entries have no hash yet. */
  toHash: string[];
  /** Messages that name each path that could not be read. */
  warnings: string[];
  /** Paths to report as changed again after the commit, so that the next run retries them. */
  retry: PathChange[];
}

export interface BuildTreeOptions {
  filter: PathFilter;
  /** The base snapshot's entries, or null for the first snapshot. */
  base: ReadonlyMap<string, ManifestEntry> | null;
  /** Paths to examine again on disk. The include roots themselves for a full run. */
  examine: readonly string[];
  /**
   * When true, a file named in `examine` keeps its base hash if its size, mtime and mode equal
   * the base entry. Files found by walking a folder keep it on that condition in any case.
   */
  reuseExaminedHashes: boolean;
  /**
   * Paths below which no base hash is reused, such as an include root that vanished and came
   * back: its files may have new contents with the old size and mtime.
   */
  rehashBelow?: readonly string[];
}

/**
 * Builds the tree of a new snapshot: the base entries inside the config's paths, with every
 * examined path looked at again (lstat, and a walk for a folder). A path that is gone is removed
 * with everything below it. A path that cannot be read, and an include root that is missing,
 * keep their base entries and add a warning, because neither proves that anything was deleted.
 */
export async function buildBackupTree(options: BuildTreeOptions): Promise<BackupTree> {
  const { filter, base } = options;
  const tree: BackupTree = { entries: new Map(), toHash: [], warnings: [], retry: [] };
  for (const [entryPath, entry] of base ?? []) {
    if (filter.includes(entryPath)) tree.entries.set(entryPath, entry);
  }

  const builder = new TreeBuilder(tree, options);
  for (const examined of examinedPaths(options)) await builder.examine(examined);
  return tree;
}

/**
 * Sorts and deduplicates the examined paths, adds include roots the base lacks, drops excluded
 * paths.
 */
function examinedPaths(options: BuildTreeOptions): string[] {
  const { filter, base } = options;
  let candidates = options.examine.map(normalizeAbsolute);
  if (candidates.length > maxExaminedPaths) candidates = [...filter.roots];
  for (const root of filter.roots) {
    if (base === null || !base.has(root)) candidates.push(root);
  }
  const unique = [...new Set(candidates)].filter((candidate) => filter.includes(candidate));
  return unique.sort();
}

class TreeBuilder {
  private readonly tree: BackupTree;
  private readonly options: BuildTreeOptions;
  private readonly rootState = new Map<string, 'present' | 'missing' | 'unreadable'>();
  private readonly walkedFolders: string[] = [];

  constructor(tree: BackupTree, options: BuildTreeOptions) {
    this.tree = tree;
    this.options = options;
  }

  async examine(examined: string): Promise<void> {
    if (this.walkedFolders.some((folder) => isSameOrInside(folder, examined))) return;

    const root = this.options.filter.rootOf(examined)!;
    if ((await this.checkRoot(root)) !== 'present') return;

    await this.examinePath(root, examined);
    // Adding or removing an entry changes its folder's mtime, and the watcher reports only the
    // entry.
    if (examined !== root) await this.refreshFolder(path.dirname(examined));
  }

  private async examinePath(root: string, examined: string): Promise<void> {
    const stats = await this.lstatOrWarn(examined);
    if (stats === 'missing') {
      this.removeAt(examined);
      return;
    }
    if (stats === 'unreadable' || !(await this.addAncestors(root, examined))) return;

    const entry = await this.entryOrWarn(examined, stats);
    if (entry === 'unreadable') return;
    if (entry === null) {
      this.removeAt(examined);
      return;
    }

    if (entry.type !== 'dir') {
      this.removeBelow(examined);
      this.addEntry(entry, this.options.reuseExaminedHashes);
      return;
    }
    this.walkedFolders.push(examined);
    await this.walkFolder(examined);
  }

  /** Updates the mode and mtime of a folder entry of the tree from disk, unless it was walked. */
  private async refreshFolder(folder: string): Promise<void> {
    const entry = this.tree.entries.get(folder);
    if (entry === undefined || entry.type !== 'dir') return;
    if (this.walkedFolders.some((walked) => isSameOrInside(walked, folder))) return;

    const stats = await this.lstatOrWarn(folder);
    if (stats === 'missing' || stats === 'unreadable' || !stats.isDirectory()) return;
    this.tree.entries.set(folder, { ...entry, mode: stats.mode & 0o7777, mtimeMs: stats.mtimeMs });
  }

  private async checkRoot(root: string): Promise<'present' | 'missing' | 'unreadable'> {
    const known = this.rootState.get(root);
    if (known !== undefined) return known;

    let state: 'present' | 'missing' | 'unreadable' = 'present';
    try {
      await fs.lstat(root);
    } catch (error) {
      state = isNotFound(error) ? 'missing' : 'unreadable';
      const reason = isNotFound(error) ? 'is missing' : `cannot be read (${describeError(error)})`;
      this.tree.warnings.push(`Include path ${root} ${reason}; its earlier backup is kept.`);
      this.tree.retry.push({ path: root, kind: 'rescan' });
    }
    this.rootState.set(root, state);
    return state;
  }

  /** Adds entries for folders between the root and `examined` that the tree lacks. */
  private async addAncestors(root: string, examined: string): Promise<boolean> {
    const missing: string[] = [];
    for (
      let folder = path.dirname(examined);
      isSameOrInside(root, folder);
      folder = path.dirname(folder)
    ) {
      if (this.tree.entries.has(folder)) break;
      missing.unshift(folder);
      if (folder === root) break;
    }
    for (const folder of missing) {
      const stats = await this.lstatOrWarn(folder);
      if (stats === 'missing' || stats === 'unreadable') return false;
      const entry = await this.entryOrWarn(folder, stats);
      if (entry === null || entry === 'unreadable' || entry.type !== 'dir') return false;
      this.tree.entries.set(folder, entry);
    }
    return true;
  }

  /** Walks a folder and replaces the tree below it, keeping base entries below unreadable paths. */
  private async walkFolder(folder: string): Promise<void> {
    const seen = new Set<string>();
    const kept: string[] = [];
    const { filter } = this.options;

    for await (const event of walkTree(folder, { includes: filter.includes })) {
      if (event.type === 'entry') {
        seen.add(event.entry.path);
        this.addEntry(event.entry, true);
      } else if (event.type === 'unreadable') {
        kept.push(event.path);
        this.warnUnreadable(event.path, event.message);
      } else if (event.type === 'missing') {
        this.removeAt(folder);
        return;
      }
    }

    for (const entryPath of [...this.tree.entries.keys()]) {
      if (entryPath === folder || seen.has(entryPath) || !isSameOrInside(folder, entryPath)) {
        continue;
      }
      if (kept.some((keptPath) => isSameOrInside(keptPath, entryPath))) continue;
      this.tree.entries.delete(entryPath);
    }
  }

  private addEntry(entry: LocalEntry, mayReuseHash: boolean): void {
    if (entry.type !== 'file') {
      this.tree.entries.set(entry.path, entry);
      return;
    }
    const before = this.options.base?.get(entry.path);
    const mustRehash = (this.options.rehashBelow ?? []).some((folder) =>
      isSameOrInside(folder, entry.path),
    );
    if (mayReuseHash && !mustRehash && before !== undefined && sameFileState(before, entry)) {
      this.tree.entries.set(entry.path, { ...entry, hash: before.hash, blob: before.blob });
      return;
    }
    if (entry.size === 0) {
      this.tree.entries.set(entry.path, { ...entry, hash: emptyContentHash });
      return;
    }
    this.tree.entries.set(entry.path, entry);
    this.tree.toHash.push(entry.path);
  }

  private async lstatOrWarn(absolutePath: string): Promise<Stats | 'missing' | 'unreadable'> {
    try {
      return await fs.lstat(absolutePath);
    } catch (error) {
      if (isNotFound(error)) return 'missing';
      this.warnUnreadable(absolutePath, describeError(error));
      return 'unreadable';
    }
  }

  private async entryOrWarn(
    absolutePath: string,
    stats: Stats,
  ): Promise<LocalEntry | null | 'unreadable'> {
    try {
      return await entryFromStats(absolutePath, stats);
    } catch (error) {
      this.warnUnreadable(absolutePath, describeError(error));
      return 'unreadable';
    }
  }

  private warnUnreadable(absolutePath: string, message: string): void {
    this.tree.warnings.push(`Cannot read ${absolutePath}: ${message}; its earlier backup is kept.`);
    this.tree.retry.push({ path: absolutePath, kind: 'change' });
  }

  private removeAt(absolutePath: string): void {
    this.tree.entries.delete(absolutePath);
    this.removeBelow(absolutePath);
  }

  private removeBelow(absolutePath: string): void {
    // Only a folder has entries below it, so a file or symlink needs no scan of the tree.
    const current = this.tree.entries.get(absolutePath);
    if (current !== undefined && current.type !== 'dir') return;
    const prefix = absolutePath === '/' ? '/' : `${absolutePath}/`;
    // Deleting from a Map while iterating it is safe: deleted entries are not visited.
    for (const entryPath of this.tree.entries.keys()) {
      if (entryPath.startsWith(prefix)) this.tree.entries.delete(entryPath);
    }
  }
}

/** True when a base entry has a usable hash for a file with this size, mtime and mode. */
function sameFileState(before: ManifestEntry, now: LocalEntry): boolean {
  if (before.type !== 'file' || before.hash === undefined) return false;
  if (before.size > 0 && before.blob === undefined) return false;
  return before.size === now.size && before.mtimeMs === now.mtimeMs && before.mode === now.mode;
}
