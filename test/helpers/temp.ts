import { chmod, lstat, mkdtemp, readdir, realpath, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { deferCleanup } from './cleanup.ts';

/**
 * Creates an empty folder under the system temp folder and removes it when the current test or
 * file ends. The path is resolved through symlinks, so it equals what an agent sees on disk.
 */
export async function makeTempDir(label: string): Promise<string> {
  const created = await mkdtemp(path.join(os.tmpdir(), `syncctl-e2e-${label}-`));
  const dir = await realpath(created);
  deferCleanup(() => removeTree(dir));
  return dir;
}

/** Removes `dir` even when tests left folders in it without write or search permission. */
export async function removeTree(dir: string): Promise<void> {
  try {
    await rm(dir, { recursive: true, force: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EACCES') throw error;
    await makeFoldersWritable(dir);
    await rm(dir, { recursive: true, force: true });
  }
}

async function makeFoldersWritable(dir: string): Promise<void> {
  const stats = await lstat(dir).catch(() => null);
  if (!stats?.isDirectory()) return;

  await chmod(dir, 0o700);
  for (const name of await readdir(dir)) {
    await makeFoldersWritable(path.join(dir, name));
  }
}
