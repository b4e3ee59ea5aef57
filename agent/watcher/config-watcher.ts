import { EventEmitter } from 'node:events';
import fs from 'node:fs/promises';
import { isSameOrInside } from '../../src/protocol/paths.ts';
import { FolderWatches, unwatchedRetryMs, WatchLimitError } from './folder-watches.ts';
import type { ChangeKind, PathChange } from './path-change.ts';
import type { PathFilter } from './path-filter.ts';

/** Above this many unwatched folders below a root, the root itself is reported for a rescan. */
const maxRescannedFolders = 100;

export interface ConfigWatcherOptions {
  /** Quiet time in ms after the last event before a batch is emitted. */
  debounceMs?: number;
  /** Maximum time in ms an event waits while events keep arriving. */
  maxDelayMs?: number;
  /** Interval in ms at which each include root is checked for disappearing or coming back. */
  rootCheckMs?: number;
}

export interface ConfigWatcherEvents {
  /** A batch of paths that changed, or `rescan` of an include root that vanished or came back. */
  changes: [changes: PathChange[]];
  /**
   * An error of a folder's watch, or a WatchLimitError (code ENOSPC) when the inotify watch limit
   * leaves folders unwatched.
   */
  error: [error: Error];
  /**
   * An include root vanished (`present: false`), or came back or was replaced (`present: true`).
   */
  root: [root: string, present: boolean];
}

type RootState = { present: false } | { present: true; dev: number; ino: number };

/**
 * Watches the include roots of one config, one `fs.watch` per folder (see FolderWatches), and
 * emits debounced batches of changed paths. Events are hints for the next run, which looks at
 * every reported path again.
 *
 * When an include root vanishes, its events are dropped and one `rescan` of the root is emitted
 * instead, so that a missing root never reads as the deletion of its tree. The roots are checked
 * every `rootCheckMs`; a root that comes back, or is replaced by another folder, is watched again
 * and gets another `rescan`.
 */
export class ConfigWatcher extends EventEmitter<ConfigWatcherEvents> {
  private readonly filter: PathFilter;
  private readonly debounceMs: number;
  private readonly maxDelayMs: number;
  private readonly rootCheckMs: number;
  private readonly rootStates = new Map<string, RootState>();
  private pending = new Map<string, ChangeKind>();
  private readonly folders: FolderWatches;
  private lastUnwatchedRetry = 0;
  private debounceTimer: NodeJS.Timeout | null = null;
  private firstPendingAt = 0;
  private rootTimer: NodeJS.Timeout | null = null;
  private checking: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(filter: PathFilter, options: ConfigWatcherOptions = {}) {
    super();
    this.filter = filter;
    this.debounceMs = options.debounceMs ?? 150;
    this.maxDelayMs = options.maxDelayMs ?? 1000;
    this.rootCheckMs = options.rootCheckMs ?? 2000;
    this.folders = new FolderWatches({
      filter,
      onChange: (changed, kind) => this.queue(changed, kind),
      onError: (error) => {
        // Folders left unwatched by the watch limit get their first rescan at the next root check.
        if (error instanceof WatchLimitError) this.lastUnwatchedRetry = 0;
        if (!this.closed) this.emit('error', error);
      },
    });
  }

  get roots(): readonly string[] {
    return this.filter.roots;
  }

  /** Starts watching the roots that exist, and resolves once every folder below them is watched. */
  async start(): Promise<void> {
    for (const root of this.filter.roots) {
      const state = await readRootState(root);
      this.rootStates.set(root, state);
      if (state.present && !this.closed) await this.folders.watchRoot(root);
    }
    this.rootTimer = setInterval(() => {
      this.checking = this.checking.then(() => this.checkRoots());
    }, this.rootCheckMs);
    this.rootTimer.unref();
  }

  /** Stops watching. Events not yet emitted are dropped. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.rootTimer !== null) clearInterval(this.rootTimer);
    if (this.debounceTimer !== null) clearTimeout(this.debounceTimer);
    await this.checking;
    this.folders.close();
  }

  // Every inotify event of a file is reported as it comes, without comparing sizes or mtimes, so
  // a chmod or a rewrite that keeps the mtime is a `change` too.
  private queue(changed: string, kind: ChangeKind): void {
    if (this.closed || !this.filter.includes(changed)) return;
    if (this.pending.size === 0) this.firstPendingAt = Date.now();
    this.pending.set(changed, mergeKinds(this.pending.get(changed), kind));

    if (this.debounceTimer !== null) clearTimeout(this.debounceTimer);
    const waited = Date.now() - this.firstPendingAt;
    const delay = Math.max(0, Math.min(this.debounceMs, this.maxDelayMs - waited));
    this.debounceTimer = setTimeout(() => {
      this.debounceTimer = null;
      this.checking = this.checking.then(() => this.emitPending());
    }, delay);
  }

  /**
   * Emits the pending batch, with the events of a root that is now missing replaced by its rescan.
   */
  private async emitPending(): Promise<void> {
    const batch = this.pending;
    this.pending = new Map();
    if (this.closed || batch.size === 0) return;

    const changes: PathChange[] = [];
    for (const root of this.filter.roots) {
      const below = [...batch].filter(([changed]) => isSameOrInside(root, changed));
      if (below.length === 0) continue;
      if (!(await this.refreshRoot(root, changes))) continue;
      for (const [changed, kind] of below) changes.push({ path: changed, kind });
    }
    if (changes.length > 0 && !this.closed) this.emit('changes', changes);
  }

  private async checkRoots(): Promise<void> {
    if (this.closed) return;
    const changes: PathChange[] = [];
    const present: string[] = [];
    for (const root of this.filter.roots) {
      if (await this.refreshRoot(root, changes)) present.push(root);
    }
    if (this.folders.hasUnwatched && Date.now() - this.lastUnwatchedRetry >= unwatchedRetryMs) {
      this.lastUnwatchedRetry = Date.now();
      changes.push(...rescansOf(await this.folders.retryUnwatched(), present));
    }
    if (changes.length > 0 && !this.closed) this.emit('changes', changes);
  }

  /**
   * Compares a root with its last known state and adds a `rescan` when it vanished, came back or
   * was replaced. A root that vanished is no longer watched, and one that came back or was
   * replaced is watched afresh. Returns whether the root is present.
   */
  private async refreshRoot(root: string, changes: PathChange[]): Promise<boolean> {
    const before = this.rootStates.get(root) ?? { present: false };
    const now = await readRootState(root);
    this.rootStates.set(root, now);

    if (!now.present) {
      if (before.present) {
        this.folders.unwatch(root);
        changes.push({ path: root, kind: 'rescan' });
        this.emit('root', root, false);
      }
      return false;
    }
    const replaced = before.present && (before.dev !== now.dev || before.ino !== now.ino);
    if (!before.present || replaced) {
      changes.push({ path: root, kind: 'rescan' });
      this.emit('root', root, true);
      if (!this.closed) await this.folders.watchRoot(root);
    }
    return true;
  }
}

async function readRootState(root: string): Promise<RootState> {
  try {
    const stats = await fs.lstat(root);
    return { present: true, dev: stats.dev, ino: stats.ino };
  } catch {
    // ENOENT, or EACCES on a folder above it: either way the root cannot be watched for now.
    return { present: false };
  }
}

/**
 * Returns the kind to keep for a path that has `earlier` pending and now gets `next`. A folder
 * kind stays until another folder kind replaces it, because it makes a sync source rescan the
 * folder above. A `change` keeps an `add` or `unlink`, which came from looking at the path.
 */
function mergeKinds(earlier: ChangeKind | undefined, next: ChangeKind): ChangeKind {
  if (earlier === undefined) return next;
  const isFolderKind = (kind: ChangeKind): boolean => kind === 'addDir' || kind === 'unlinkDir';
  if (isFolderKind(earlier) && !isFolderKind(next)) return earlier;
  if (next === 'change' && (earlier === 'add' || earlier === 'unlink')) return earlier;
  return next;
}

/**
 * Returns a `rescan` of each unwatched folder below a present root, or of the root itself when more
 * than `maxRescannedFolders` folders below it are unwatched.
 */
function rescansOf(folders: readonly string[], presentRoots: readonly string[]): PathChange[] {
  const rescans: PathChange[] = [];
  for (const root of presentRoots) {
    const below = folders.filter((folder) => isSameOrInside(root, folder));
    if (below.length > maxRescannedFolders) rescans.push({ path: root, kind: 'rescan' });
    else for (const folder of below) rescans.push({ path: folder, kind: 'rescan' });
  }
  return rescans;
}
