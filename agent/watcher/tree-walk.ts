import fs from 'node:fs/promises';
import path from 'node:path';
import { lstatSync, Stats } from 'node:fs';
import { describeError, fsErrorCode, isNotFound } from '../fs-error-code.ts';
import { entryFromStats, type LocalEntry } from './local-entry.ts';

/** One result of a walk, in no particular order. */
export type WalkEvent =
  | { type: 'entry'; entry: LocalEntry }
  /** The walk's start path does not exist. Nothing below it was visited. */
  | { type: 'missing'; path: string }
  /**
   * `path` or its contents could not be read (EACCES, EPERM, EIO, ...). Earlier records of what
   * lies at or below it must be kept, because the walk cannot tell what is there.
   */
  | { type: 'unreadable'; path: string; code: string | undefined; message: string }
  /** A socket, FIFO or device file, which the manifest has no type for. */
  | { type: 'special'; path: string };

export interface WalkOptions {
  /** Returns false for a path to skip together with everything below it. */
  includes(absolutePath: string): boolean;
}

/**
 * Walks the tree at `start` with lstat and streamed `opendir`, yielding one event per entry.
 * Symlinks are reported with their target and never followed. A folder is entered only after
 * lstat showed a real folder, and each folder (by device and inode) is read at most once, so a
 * symlink loop or a folder swapped for a link mid-walk cannot make the walk loop.
 */
export async function* walkTree(start: string, options: WalkOptions): AsyncGenerator<WalkEvent> {
  const first = await lstatOrEvent(start);
  if (!isStats(first)) {
    yield first;
    return;
  }

  const visited = new Set<string>();
  const pending: Array<{ path: string; stats: Stats }> = [];
  yield* visit(start, first, pending);

  while (pending.length > 0) {
    const folder = pending.pop()!;
    const key = `${folder.stats.dev}:${folder.stats.ino}`;
    if (visited.has(key)) continue;
    visited.add(key);

    for await (const event of readFolder(folder.path, folder.stats, options)) {
      if (event.type === 'child') yield* visit(event.path, event.stats, pending);
      else yield event;
    }
  }
}

type FolderEvent = WalkEvent | { type: 'child'; path: string; stats: Stats };

async function* visit(
  absolutePath: string,
  stats: Stats,
  pending: Array<{ path: string; stats: Stats }>,
): AsyncGenerator<WalkEvent> {
  let entry: LocalEntry | null;
  try {
    entry = await entryFromStats(absolutePath, stats);
  } catch (error) {
    if (!isNotFound(error)) yield unreadable(absolutePath, error);
    return;
  }

  if (entry === null) {
    yield { type: 'special', path: absolutePath };
    return;
  }
  yield { type: 'entry', entry };
  if (entry.type === 'dir') pending.push({ path: absolutePath, stats });
}

async function* readFolder(
  folder: string,
  stats: Stats,
  options: WalkOptions,
): AsyncGenerator<FolderEvent> {
  let handle;
  try {
    handle = await fs.opendir(folder, { bufferSize: 128 });
  } catch (error) {
    if (!isNotFound(error)) yield unreadable(folder, error);
    return;
  }

  // opendir follows a symlink, so check that the folder was not replaced by one after its lstat.
  const now = await lstatOrEvent(folder);
  if (!isStats(now) || now.ino !== stats.ino || now.dev !== stats.dev || !now.isDirectory()) {
    await handle.close().catch(() => undefined);
    return;
  }

  try {
    for await (const dirent of handle) {
      const child = path.join(folder, dirent.name);
      if (!options.includes(child)) continue;

      const childStats = await lstatOrEvent(child);
      if (isStats(childStats)) yield { type: 'child', path: child, stats: childStats };
      else if (childStats.type !== 'missing') yield childStats;
    }
  } catch (error) {
    // Reading the folder failed part way (EIO, or the folder vanished): keep what lies below it.
    if (!isNotFound(error)) yield unreadable(folder, error);
  }
}

// lstat is synchronous for the reason given at readIfSmall: one system call of microseconds per
// entry, instead of a thread-pool round trip that made walking large trees several times slower.
async function lstatOrEvent(absolutePath: string): Promise<Stats | WalkEvent> {
  try {
    return lstatSync(absolutePath);
  } catch (error) {
    if (isNotFound(error)) return { type: 'missing', path: absolutePath };
    return unreadable(absolutePath, error);
  }
}

function isStats(value: Stats | WalkEvent): value is Stats {
  return value instanceof Stats;
}

function unreadable(absolutePath: string, error: unknown): WalkEvent {
  return {
    type: 'unreadable',
    path: absolutePath,
    code: fsErrorCode(error),
    message: describeError(error),
  };
}
