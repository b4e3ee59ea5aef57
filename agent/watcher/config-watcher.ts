import { EventEmitter } from 'node:events';
import fs from 'node:fs/promises';
import path from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import { isSameOrInside } from '../../src/protocol/paths.ts';
import type { ChangeKind, PathChange } from './path-change.ts';
import type { PathFilter } from './path-filter.ts';

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
  /** An error from chokidar. ENOENT is expected while files come and go. */
  error: [error: Error];
  /**
   * An include root vanished (`present: false`), or came back or was replaced (`present: true`).
   */
  root: [root: string, present: boolean];
}

type RootState = { present: false } | { present: true; dev: number; ino: number };

const watchedEvents = ['add', 'change', 'unlink', 'addDir', 'unlinkDir'] as const;

/**
 * Watches the include roots of one config with chokidar and emits debounced batches of changed
 * paths. Events are hints for the next run, which looks at every reported path again.
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
  private chokidar: FSWatcher | null = null;
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
  }

  get roots(): readonly string[] {
    return this.filter.roots;
  }

  /** Starts watching the roots that exist, and resolves once chokidar has read them. */
  async start(): Promise<void> {
    for (const root of this.filter.roots) this.rootStates.set(root, await readRootState(root));
    await this.watchPresentRoots();
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
    await this.chokidar?.close();
    this.chokidar = null;
  }

  private async watchPresentRoots(): Promise<void> {
    await this.chokidar?.close();
    this.chokidar = null;
    const present = this.filter.roots.filter((root) => this.rootStates.get(root)?.present === true);
    if (present.length === 0 || this.closed) return;

    const watcher = watch(present, {
      ignored: (candidate: string) =>
        this.filter.rootOf(candidate) !== null && !this.filter.includes(candidate),
      followSymlinks: false,
      ignoreInitial: true,
      atomic: true,
      ignorePermissionErrors: true,
      persistent: true,
    });
    this.chokidar = watcher;
    for (const kind of watchedEvents) {
      watcher.on(kind, (changed: string) => this.queue(changed, kind));
    }
    // chokidar drops a `change` whose mtime did not move once the file's atime is past its mtime,
    // as after any read, so a chmod or a same-mtime rewrite of a backed-up file would go unseen.
    // The raw fs.watch event still arrives and marks the path for a look.
    watcher.on('raw', (event: string, name: string, details: unknown) => {
      const changed = rawEventPath(name, (details as { watchedPath?: string } | undefined)?.watchedPath);
      if (event === 'change' && changed !== null) this.queue(changed, 'change');
    });
    watcher.on('error', (error: unknown) =>
      this.emit('error', error instanceof Error ? error : new Error(String(error))),
    );
    await new Promise<void>((resolve) => watcher.once('ready', () => resolve()));
  }

  private queue(changed: string, kind: ChangeKind): void {
    if (this.closed || !this.filter.includes(changed)) return;
    if (this.pending.size === 0) this.firstPendingAt = Date.now();
    this.pending.set(changed, kind);

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
    for (const root of this.filter.roots) await this.refreshRoot(root, changes);
    if (changes.length > 0 && !this.closed) this.emit('changes', changes);
  }

  /**
   * Compares a root with its last known state and adds a `rescan` when it vanished, came back or
   * was replaced. A root that came back or was replaced also restarts chokidar. Returns whether
   * the root is present.
   */
  private async refreshRoot(root: string, changes: PathChange[]): Promise<boolean> {
    const before = this.rootStates.get(root) ?? { present: false };
    const now = await readRootState(root);
    this.rootStates.set(root, now);

    if (!now.present) {
      if (before.present) {
        changes.push({ path: root, kind: 'rescan' });
        this.emit('root', root, false);
      }
      return false;
    }
    const replaced = before.present && (before.dev !== now.dev || before.ino !== now.ino);
    if (!before.present || replaced) {
      changes.push({ path: root, kind: 'rescan' });
      this.emit('root', root, true);
      if (!this.closed) await this.watchPresentRoots();
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

/** Returns the absolute path of a raw fs.watch event from a folder's or a file's own watcher. */
function rawEventPath(name: string | null | undefined, watchedPath: string | undefined): string | null {
  if (!watchedPath || !path.isAbsolute(watchedPath)) return null;
  if (!name) return watchedPath;
  if (path.basename(watchedPath) === name) return watchedPath;
  return path.join(watchedPath, name);
}
