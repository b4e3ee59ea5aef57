import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, lstat, lutimes, mkdir, readdir, readlink, symlink, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'vitest';

/** One entry of a tree to create. A string or Buffer alone is the content of a regular file. */
export type EntrySpec =
  | string
  | Buffer
  | { file: string | Buffer; mode?: number; mtime?: Date }
  | { dir: true; mode?: number; mtime?: Date }
  | { symlink: string; mtime?: Date };

/** Entries by path relative to the tree's root, `/`-separated. Parent folders are implied. */
export type TreeSpec = Record<string, EntrySpec>;

/**
 * Timestamp given to every created entry without its own `mtime`, so that a restore which fails
 * to set mtimes differs from the source by years, not by milliseconds.
 */
export const defaultMtime = new Date('2024-05-01T12:00:00Z');

/** What a tree holds at one path; `mtime` is in whole seconds. */
export interface EntryDescription {
  type: 'file' | 'dir' | 'symlink' | 'other';
  mode: number;
  mtime: number;
  size?: number;
  sha256?: string;
  target?: string;
}

/** A tree by relative path; the root itself is `.`. */
export type TreeDescription = Map<string, EntryDescription>;

/**
 * Creates the entries of `spec` under `root` (created if missing), then sets modes and mtimes,
 * folders last and deepest first so that creating their children does not move them.
 */
export async function writeTree(root: string, spec: TreeSpec): Promise<void> {
  await mkdir(root, { recursive: true });
  const folders = new Map<string, { mode: number; mtime: Date }>([['.', { mode: 0o755, mtime: defaultMtime }]]);
  const leaves: Array<{ fullPath: string; isSymlink: boolean; mode: number; mtime: Date }> = [];

  for (const [relative, entry] of Object.entries(spec)) {
    const fullPath = path.join(root, relative);
    for (let parent = path.posix.dirname(relative); parent !== '.'; parent = path.posix.dirname(parent)) {
      if (!folders.has(parent)) folders.set(parent, { mode: 0o755, mtime: defaultMtime });
    }
    await mkdir(path.dirname(fullPath), { recursive: true });

    if (typeof entry === 'string' || Buffer.isBuffer(entry)) {
      await writeFile(fullPath, entry);
      leaves.push({ fullPath, isSymlink: false, mode: 0o644, mtime: defaultMtime });
    } else if ('file' in entry) {
      await writeFile(fullPath, entry.file);
      leaves.push({ fullPath, isSymlink: false, mode: entry.mode ?? 0o644, mtime: entry.mtime ?? defaultMtime });
    } else if ('dir' in entry) {
      await mkdir(fullPath, { recursive: true });
      folders.set(relative, { mode: entry.mode ?? 0o755, mtime: entry.mtime ?? defaultMtime });
    } else {
      await symlink(entry.symlink, fullPath);
      leaves.push({ fullPath, isSymlink: true, mode: 0, mtime: entry.mtime ?? defaultMtime });
    }
  }

  for (const leaf of leaves) {
    if (leaf.isSymlink) {
      await lutimes(leaf.fullPath, leaf.mtime, leaf.mtime);
    } else {
      await chmod(leaf.fullPath, leaf.mode);
      await utimes(leaf.fullPath, leaf.mtime, leaf.mtime);
    }
  }

  const deepestFirst = [...folders.entries()].sort(([a], [b]) => depth(b) - depth(a));
  for (const [relative, folder] of deepestFirst) {
    const fullPath = path.join(root, relative);
    await chmod(fullPath, folder.mode);
    await utimes(fullPath, folder.mtime, folder.mtime);
  }
}

function depth(relative: string): number {
  return relative === '.' ? 0 : relative.split('/').length;
}

/** Reads a tree from disk without following symlinks, hashing every regular file. */
export async function describeTree(root: string): Promise<TreeDescription> {
  const description: TreeDescription = new Map();
  await describeEntry(root, '.', description);
  return description;
}

async function describeEntry(fullPath: string, relative: string, out: TreeDescription): Promise<void> {
  const stats = await lstat(fullPath);
  const base = { mode: stats.mode & 0o7777, mtime: Math.floor(stats.mtimeMs / 1000) };

  if (stats.isFile()) {
    out.set(relative, { type: 'file', ...base, size: stats.size, sha256: await hashFile(fullPath) });
  } else if (stats.isSymbolicLink()) {
    out.set(relative, { type: 'symlink', ...base, target: await readlink(fullPath) });
  } else if (stats.isDirectory()) {
    out.set(relative, { type: 'dir', ...base });
    for (const name of (await readdir(fullPath)).sort()) {
      const child = relative === '.' ? name : `${relative}/${name}`;
      await describeEntry(path.join(fullPath, name), child, out);
    }
  } else {
    out.set(relative, { type: 'other', ...base });
  }
}

async function hashFile(fullPath: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(fullPath)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export interface DiffOptions {
  /**
   * Compare the mtimes of folders (default true). Writing, removing or renaming an entry moves
   * its folder's mtime, so a check of the files alone can leave folder mtimes to its own test.
   */
  folderMtimes?: boolean;
}

/** Lists every way in which `actual` differs from `expected`, one line per difference. */
export function diffTrees(expected: TreeDescription, actual: TreeDescription, options: DiffOptions = {}): string[] {
  const differences: string[] = [];
  for (const [relative, want] of expected) {
    const got = actual.get(relative);
    if (!got) {
      differences.push(`missing ${want.type} ${JSON.stringify(relative)}`);
      continue;
    }
    for (const field of ['type', 'mode', 'mtime', 'size', 'sha256', 'target'] as const) {
      if (field === 'mtime' && want.type === 'dir' && got.type === 'dir' && options.folderMtimes === false) continue;
      if (want[field] !== got[field]) {
        const show = (value: unknown) => (field === 'mode' && typeof value === 'number' ? value.toString(8) : JSON.stringify(value));
        differences.push(`${JSON.stringify(relative)}: ${field} is ${show(got[field])}, expected ${show(want[field])}`);
      }
    }
  }
  for (const [relative, got] of actual) {
    if (!expected.has(relative)) differences.push(`unexpected ${got.type} ${JSON.stringify(relative)}`);
  }
  return differences;
}

/** Asserts that the tree at `root` equals `expected` in every entry. */
export async function expectTreeEquals(root: string, expected: TreeDescription, options: DiffOptions = {}): Promise<void> {
  const differences = diffTrees(expected, await describeTree(root), options);
  expect(differences, `differences of ${root} from the source tree`).toEqual([]);
}

/** Number of regular files in a tree and their total size, as snapshots and restores count them. */
export function countFiles(tree: TreeDescription): { files: number; bytes: number } {
  let files = 0;
  let bytes = 0;
  for (const entry of tree.values()) {
    if (entry.type !== 'file') continue;
    files += 1;
    bytes += entry.size ?? 0;
  }
  return { files, bytes };
}

/** The entries of `tree` at or below `relative`, with their paths made relative to it. */
export function subtree(tree: TreeDescription, relative: string): TreeDescription {
  const result: TreeDescription = new Map();
  for (const [key, entry] of tree) {
    if (key === relative) result.set('.', entry);
    else if (key.startsWith(`${relative}/`)) result.set(key.slice(relative.length + 1), entry);
  }
  return result;
}

/** Random bytes: content that no other file of a test shares, so deduplication cannot hide an upload. */
export function uniqueContent(size: number): Buffer {
  return randomBytes(size);
}

/**
 * Lists the entries under `to` that are neither the restored copy of `originalPath` (an absolute
 * path restored under `to`), nor below it, nor one of the folders leading to it: what a restore
 * wrote where it should not.
 */
export async function strayEntries(to: string, originalPath: string): Promise<string[]> {
  const restoredRelative = path.relative(to, path.join(to, originalPath));
  const ancestors = new Set<string>();
  for (let parent = path.dirname(restoredRelative); parent !== '.'; parent = path.dirname(parent)) ancestors.add(parent);

  const stray: string[] = [];
  for (const [relative, entry] of await describeTree(to)) {
    if (relative === '.' || relative === restoredRelative || relative.startsWith(`${restoredRelative}/`)) continue;
    if (ancestors.has(relative) && entry.type === 'dir') continue;
    stray.push(`${entry.type} ${relative}`);
  }
  return stray;
}
