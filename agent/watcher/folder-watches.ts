import fs, { type FSWatcher, type Stats } from 'node:fs';
import path from 'node:path';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { isSameOrInside } from '../../src/protocol/paths.ts';
import { fsErrorCode, isNotFound } from '../fs-error-code.ts';
import type { ChangeKind } from './path-change.ts';
import type { PathFilter } from './path-filter.ts';

/**
 * A walk yields to the event loop once it has run this many ms, so that watching a large tree does
 * not hold up other work.
 */
const walkSliceMs = 10;

/**
 * Interval in ms at which folders without a watch (the inotify watch limit was reached, or their
 * watcher failed) are tried again and reported for a rescan, so that runs walk them.
 */
export const unwatchedRetryMs = 30_000;

export interface FolderWatchesOptions {
  filter: PathFilter;
  /** Receives each changed path below a watched root. Paths are not checked against the filter. */
  onChange(changed: string, kind: ChangeKind): void;
  /** Receives unexpected errors. ENOENT and EPERM of a folder that vanished are not passed on. */
  onError(error: Error): void;
}

/** Raised when inotify rejects another watch because the per-user watch limit is reached. */
export class WatchLimitError extends Error {
  readonly code = 'ENOSPC';
  /** The folder that could not be watched. */
  readonly path: string;

  constructor(folder: string, cause: unknown) {
    super(
      `Watching ${folder} failed: the inotify watch limit is reached (${describeWatchLimit()}, ` +
        `shared by all processes of this user). Until it is raised, folders without a watch are ` +
        `reported for a rescan every ${unwatchedRetryMs / 1000} s, so that backup runs and sync ` +
        `scans walk them. Raise it with "sysctl -w fs.inotify.max_user_watches=524288" and keep ` +
        `that setting in a file under /etc/sysctl.d/.`,
      { cause },
    );
    this.name = 'WatchLimitError';
    this.path = folder;
  }
}

interface WatchedPath {
  watcher: FSWatcher;
  /** False for an include root that is a file, which is watched itself. */
  isFolder: boolean;
  dev: number;
  ino: number;
  /** Watched folders directly inside this one, to find the watches below a removed folder. */
  subfolders: Set<string>;
}

interface Walk {
  start: string;
  cancelled: boolean;
}

/**
 * Watches the folders below include roots with one non-recursive `fs.watch` each. On Linux every
 * watch is an inotify watch on the folder, which reports each entry of the folder that is
 * created, deleted, moved, written or changes attributes, by name. Files get no watch of their
 * own and no state is kept per file, so memory grows with the number of folders only.
 *
 * A folder that appears is watched before it is listed, and its subfolders the same way, so that
 * nothing created inside it right after it appeared is missed. Its `addDir` follows once the whole
 * folder is watched. Symlinks are never followed, and excluded folders are not watched.
 */
export class FolderWatches {
  private readonly filter: PathFilter;
  private readonly onChange: FolderWatchesOptions['onChange'];
  private readonly onError: FolderWatchesOptions['onError'];
  private readonly watches = new Map<string, WatchedPath>();
  private readonly walks = new Set<Walk>();
  /** Folders that exist but have no watch because of the watch limit or a watcher error. */
  private readonly unwatched = new Set<string>();
  /** Folders whose watch failed with EACCES or EPERM. A backup run warns about them. */
  private readonly unreadable = new Set<string>();
  private limitReported = false;
  private closed = false;

  constructor(options: FolderWatchesOptions) {
    this.filter = options.filter;
    this.onChange = options.onChange;
    this.onError = options.onError;
  }

  /** Whether some folders could not be watched, so that `retryUnwatched` has work to do. */
  get hasUnwatched(): boolean {
    return this.unwatched.size > 0 || this.unreadable.size > 0;
  }

  /**
   * Stops watching below `root`, then watches it afresh: a folder with all its subfolders, or a
   * file by itself. Nothing is watched for a symlink, which is not followed, or for a root that is
   * excluded itself. Resolves once every folder is watched.
   */
  async watchRoot(root: string): Promise<void> {
    this.unwatch(root);
    if (!this.filter.includes(root)) return;
    let stats: Stats;
    try {
      stats = fs.lstatSync(root);
    } catch {
      return;
    }
    if (stats.isDirectory()) await this.walk(root);
    else if (stats.isFile()) this.watchPath(root, false);
  }

  /** Closes the watches of `folder` and of everything below it. */
  unwatch(folder: string): void {
    for (const walk of this.walks) {
      if (isSameOrInside(folder, walk.start)) walk.cancelled = true;
    }
    const pending = [folder];
    while (pending.length > 0) {
      const current = pending.pop()!;
      const watched = this.watches.get(current);
      if (watched === undefined) continue;
      for (const subfolder of watched.subfolders) pending.push(subfolder);
      this.watches.delete(current);
      watched.watcher.close();
    }
    this.watches.get(path.dirname(folder))?.subfolders.delete(folder);
    for (const set of [this.unwatched, this.unreadable]) {
      for (const entry of set) if (isSameOrInside(folder, entry)) set.delete(entry);
    }
  }

  /**
   * Tries again to watch the folders that could not be watched. Returns the folders that were
   * unwatched before or still are, because changes inside them went unseen and they need a rescan.
   * Unreadable folders are not returned, but one that became readable is reported as `addDir`.
   */
  async retryUnwatched(): Promise<string[]> {
    const unwatched = [...this.unwatched];
    const unreadable = [...this.unreadable];
    this.unwatched.clear();
    this.unreadable.clear();
    for (const folder of unreadable) {
      if (this.closed) break;
      await this.watchAgain(folder);
      if (this.watches.has(folder)) this.onChange(folder, 'addDir');
    }
    for (const folder of unwatched) {
      if (this.closed) break;
      await this.watchAgain(folder);
    }
    if (this.unwatched.size === 0) this.limitReported = false;
    return [...new Set([...unwatched, ...this.unwatched])];
  }

  private async watchAgain(target: string): Promise<void> {
    if (this.filter.roots.includes(target)) await this.watchRoot(target);
    else await this.walk(target);
  }

  close(): void {
    this.closed = true;
    for (const walk of this.walks) walk.cancelled = true;
    for (const watched of this.watches.values()) watched.watcher.close();
    this.watches.clear();
    this.unwatched.clear();
    this.unreadable.clear();
  }

  /**
   * Watches `start` (again, when it is watched already) and every subfolder below it that is not
   * watched yet, each before it is listed. Returns false when the walk was cancelled because
   * `start` was unwatched meanwhile, and true otherwise, even when some folders got no watch.
   */
  private async walk(start: string): Promise<boolean> {
    const walk: Walk = { start, cancelled: false };
    this.walks.add(walk);
    try {
      if (!this.watchPath(start, true)) return !this.closed;
      const pending = this.listSubfolders(start);
      let sliceStart = performance.now();
      while (pending.length > 0) {
        if (performance.now() - sliceStart >= walkSliceMs) {
          await yieldToEventLoop();
          sliceStart = performance.now();
        }
        if (walk.cancelled || this.closed) return false;
        const folder = pending.pop()!;
        if (this.watches.has(folder) || !this.watchPath(folder, true)) continue;
        for (const subfolder of this.listSubfolders(folder)) pending.push(subfolder);
      }
      return !walk.cancelled && !this.closed;
    } finally {
      this.walks.delete(walk);
    }
  }

  /** Returns the included subfolders of a folder that are not watched yet, from readdir alone. */
  private listSubfolders(folder: string): string[] {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(folder, { withFileTypes: true });
    } catch {
      // The folder vanished or cannot be listed. Its parent's watch reports a removal.
      return [];
    }
    const subfolders: string[] = [];
    for (const entry of entries) {
      // A Dirent of a symlink is not a directory, so links to folders are never followed.
      if (!entry.isDirectory()) continue;
      const subfolder = path.join(folder, entry.name);
      if (this.watches.has(subfolder) || !this.filter.includes(subfolder)) continue;
      subfolders.push(subfolder);
    }
    return subfolders;
  }

  /**
   * Starts an `fs.watch` on `target` and records it, replacing an earlier watch of the same path
   * without a gap. Returns false when `target` is gone, is not of the expected type, or cannot be
   * watched.
   */
  private watchPath(target: string, isFolder: boolean): boolean {
    let watcher: FSWatcher;
    try {
      watcher = fs.watch(target, { persistent: true }, (eventType, name) =>
        this.onEvent(target, watcher, eventType, name),
      );
    } catch (error) {
      this.watchFailed(target, error);
      return false;
    }

    // fs.watch follows symlinks, so a folder replaced by a symlink after its listing is let go.
    let stats: Stats | null = null;
    try {
      stats = fs.lstatSync(target);
    } catch {
      stats = null;
    }
    if (stats === null || (isFolder ? !stats.isDirectory() : !stats.isFile())) {
      watcher.close();
      return false;
    }
    watcher.on('error', (error) => this.onWatcherError(target, watcher, error));

    const earlier = this.watches.get(target);
    this.watches.set(target, {
      watcher,
      isFolder,
      dev: stats.dev,
      ino: stats.ino,
      subfolders: earlier?.subfolders ?? new Set(),
    });
    this.watches.get(path.dirname(target))?.subfolders.add(target);
    // The new watch is open first. On the same inode it shares the inotify watch of the earlier
    // one, so closing the earlier one loses no event.
    earlier?.watcher.close();
    return true;
  }

  private watchFailed(target: string, error: unknown): void {
    const code = fsErrorCode(error);
    if (code === 'ENOENT' || code === 'ENOTDIR') return;
    if (code === 'EACCES' || code === 'EPERM') {
      this.unreadable.add(target);
      return;
    }
    this.unwatched.add(target);
    if (code === 'ENOSPC') {
      if (this.limitReported) return;
      this.limitReported = true;
      this.onError(new WatchLimitError(target, error));
      return;
    }
    this.onError(error instanceof Error ? error : new Error(String(error)));
  }

  private onWatcherError(target: string, watcher: FSWatcher, error: Error): void {
    const watched = this.watches.get(target);
    if (watched?.watcher !== watcher) return;
    // Node closes a watcher that reported an error, so the path has no watch from here on.
    this.unwatch(target);
    const code = fsErrorCode(error);
    if (code !== 'ENOENT' && code !== 'EPERM') this.onError(error);
    if (exists(target)) this.unwatched.add(target);
    else this.onChange(target, watched.isFolder ? 'unlinkDir' : 'unlink');
  }

  private onEvent(
    target: string,
    watcher: FSWatcher,
    eventType: string,
    name: string | null,
  ): void {
    const watched = this.watches.get(target);
    if (this.closed || watched?.watcher !== watcher) return;
    if (!watched.isFolder || name === null) {
      this.onChange(target, 'change');
      return;
    }

    const child = path.join(target, name);
    // Events about the folder itself (attributes changed, deleted, moved) carry its own name.
    if (name === path.basename(target) && !exists(child)) {
      // A folder's parent reports the event too, but a root has no watched parent. Its change
      // makes the root check look at it.
      if (this.filter.roots.includes(target)) this.onChange(target, 'change');
      // A folder that is still there may have lost a child of its own name, so that is examined.
      if (!sameFolder(target, watched)) return;
    }
    if (!this.filter.includes(child)) return;

    // libuv reports an inotify event as 'rename' when its mask has any bit besides IN_ATTRIB and
    // IN_MODIFY. Events of a folder entry carry IN_ISDIR, so even a folder's chmod is a 'rename'.
    // A 'change' is a file written, or a file's or symlink's attributes changed.
    if (eventType === 'change') this.onChange(child, 'change');
    else this.examineEntry(child);
  }

  /** Looks at an entry that was created, deleted, moved or changed attributes, and reports it. */
  private examineEntry(entry: string): void {
    let stats: Stats | null;
    try {
      stats = fs.lstatSync(entry);
    } catch (error) {
      if (!isNotFound(error)) {
        this.onChange(entry, 'change');
        return;
      }
      stats = null;
    }

    const watched = this.watches.get(entry);
    if (stats?.isDirectory()) {
      // Another folder at this path: its subfolders are other folders too, so all are watched anew.
      if (watched !== undefined && (watched.dev !== stats.dev || watched.ino !== stats.ino)) {
        this.unwatch(entry);
      }
      // The same inode may be a folder that was deleted and made again, whose watch ended with it,
      // so the folder gets a new watch and its unwatched subfolders get theirs. A folder that
      // could not be watched is reported too, because consumers walk an added folder whole.
      this.walk(entry).then(
        (complete) => {
          if (complete) this.onChange(entry, 'addDir');
        },
        (error: unknown) => this.onError(error instanceof Error ? error : new Error(String(error))),
      );
      return;
    }

    if (watched !== undefined || this.unwatched.has(entry) || this.unreadable.has(entry)) {
      this.unwatch(entry);
      this.onChange(entry, 'unlinkDir');
      return;
    }
    this.onChange(entry, stats === null ? 'unlink' : 'add');
  }
}

function exists(target: string): boolean {
  try {
    fs.lstatSync(target);
    return true;
  } catch {
    return false;
  }
}

/** Returns true when `folder` is still the folder that `watched` was started on. */
function sameFolder(folder: string, watched: WatchedPath): boolean {
  try {
    const stats = fs.lstatSync(folder);
    return stats.isDirectory() && stats.dev === watched.dev && stats.ino === watched.ino;
  } catch {
    return false;
  }
}

/**
 * Describes the inotify watch limit. Inside a user namespace, such as a container's, the lower
 * user.max_inotify_watches of that namespace may apply as well.
 */
function describeWatchLimit(): string {
  const global = readNumber('/proc/sys/fs/inotify/max_user_watches');
  const namespace = readNumber('/proc/sys/user/max_inotify_watches');
  if (namespace !== null && (global === null || namespace < global)) {
    return `user.max_inotify_watches is ${namespace}`;
  }
  return `fs.inotify.max_user_watches is ${global ?? 'unknown'}`;
}

function readNumber(file: string): number | null {
  try {
    const value = Number(fs.readFileSync(file, 'utf8').trim());
    return Number.isFinite(value) ? value : null;
  } catch {
    return null;
  }
}
