import { createHash, randomBytes } from 'node:crypto';
import {
  closeSync,
  constants,
  fchmodSync,
  futimesSync,
  openSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { ManifestEntry } from '../../src/protocol/manifest.ts';
import { isNotFound } from '../fs-error-code.ts';
import { getStream } from './store-http.ts';

/** Returns a fresh temporary name in the folder of `target`, so that a rename onto it is atomic. */
export function temporaryPathBeside(target: string): string {
  return path.join(path.dirname(target), `.syncctl-restore-${randomBytes(6).toString('hex')}.tmp`);
}

/** Flags that create a new file and fail when anything, a symlink included, has the name. */
const createExclusive = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/**
 * Writes a restored file's bytes with its stored mode and mtime. A name that is free is created
 * in place. An existing file or symlink is replaced through a temporary file and a rename, so a
 * reader sees either the old file or the whole new one.
 *
 * The calls are synchronous for the reason given at `readIfSmall`: restoring many small files
 * costs a thread-pool round trip per call otherwise. Callers use it only for contents in memory,
 * which are at most a pack's worth.
 */
export function writeRestoredFile(target: string, bytes: Uint8Array, entry: ManifestEntry): void {
  let fd: number;
  let temporary: string | null = null;
  try {
    fd = openSync(target, createExclusive, 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    temporary = temporaryPathBeside(target);
    fd = openSync(temporary, createExclusive, 0o600);
  }
  try {
    try {
      let written = 0;
      while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written);
      applyMetadataToOpenFile(fd, entry);
    } finally {
      closeSync(fd);
    }
    if (temporary !== null) renameSync(temporary, target);
  } catch (error) {
    rmSync(temporary ?? target, { force: true });
    throw error;
  }
}

function applyMetadataToOpenFile(fd: number, entry: ManifestEntry): void {
  // Times in seconds as numbers keep the sub-millisecond part of mtimeMs that a Date drops.
  fchmodSync(fd, entry.mode);
  futimesSync(fd, Date.now() / 1000, entry.mtimeMs / 1000);
}

/** Copies a restored file to another target through a temporary file and a rename. */
export async function copyFileAtomically(source: string, target: string): Promise<void> {
  const temporary = temporaryPathBeside(target);
  try {
    await fs.copyFile(source, temporary, fs.constants.COPYFILE_EXCL);
    await fs.rename(temporary, target);
  } catch (error) {
    await fs.rm(temporary, { force: true });
    throw error;
  }
}

/** Writes the first `length` bytes of `buffer` at the handle's current position. */
async function writeAll(handle: fs.FileHandle, buffer: Buffer, length: number): Promise<void> {
  for (let written = 0; written < length; ) {
    const { bytesWritten } = await handle.write(buffer, written, length - written);
    written += bytesWritten;
  }
}

/** Bytes per write while an object streams into its file. */
const writeChunkBytes = 1 << 20;

/**
 * Streams a bucket object into a temporary file beside `target`, checks its SHA-256 and length,
 * and only then renames it into place. Returns false, leaving `target` untouched, on a mismatch.
 */
export async function downloadVerifiedFile(
  url: string,
  key: string,
  target: string,
  expected: { hash: string; length: number },
  signal?: AbortSignal,
): Promise<boolean> {
  const body = await getStream(url, key, signal);

  const hasher = createHash('sha256');
  let length = 0;
  const temporary = temporaryPathBeside(target);
  try {
    const handle = await fs.open(temporary, 'wx', 0o600);
    try {
      // Socket reads arrive in chunks of up to 64 KiB. They are joined in one reused buffer into
      // writes of 1 MiB, which makes 16 times fewer write calls and allocates no memory per chunk.
      const buffer = Buffer.allocUnsafe(writeChunkBytes);
      let filled = 0;
      for await (const chunk of body as AsyncIterable<Buffer>) {
        signal?.throwIfAborted();
        length += chunk.length;
        // More bytes than the snapshot lists cannot be the content, so the download stops here.
        if (length > expected.length) break;
        hasher.update(chunk);
        for (let offset = 0; offset < chunk.length; ) {
          const copied = chunk.copy(buffer, filled, offset);
          filled += copied;
          offset += copied;
          if (filled === buffer.length) {
            await writeAll(handle, buffer, filled);
            filled = 0;
          }
        }
      }
      await writeAll(handle, buffer, filled);
    } finally {
      await handle.close();
    }
    if (length !== expected.length || hasher.digest('hex') !== expected.hash) {
      await fs.rm(temporary, { force: true });
      return false;
    }
    await fs.rename(temporary, target);
    return true;
  } catch (error) {
    await fs.rm(temporary, { force: true });
    throw error;
  }
}

/**
 * Creates a symlink through a temporary name and a rename, so an existing file at `target` is
 * replaced.
 */
export async function createSymlinkAtomically(linkTarget: string, target: string): Promise<void> {
  const temporary = temporaryPathBeside(target);
  try {
    await fs.symlink(linkTarget, temporary);
    await fs.rename(temporary, target);
  } catch (error) {
    await fs.rm(temporary, { force: true });
    throw error;
  }
}

/**
 * Creates a restored folder, or accepts an existing real folder. Returns false when something
 * else (a file, or a symlink that could lead outside the restore folder) is in the way.
 */
export async function ensureFolder(target: string): Promise<boolean> {
  try {
    const stats = await fs.lstat(target);
    return stats.isDirectory();
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
  // Owner-only until the folder's own mode is applied, after everything inside it is written.
  await fs.mkdir(target, { recursive: true, mode: 0o700 });
  return true;
}

/** Sets the stored mode and mtime. Symlinks get only their mtime, because Linux has no lchmod. */
export async function applyMetadata(target: string, entry: ManifestEntry): Promise<void> {
  // Times in seconds as numbers keep the sub-millisecond part of mtimeMs that a Date drops.
  const mtime = entry.mtimeMs / 1000;
  if (entry.type === 'symlink') {
    await fs.lutimes(target, mtime, mtime);
    return;
  }
  await fs.chmod(target, entry.mode);
  await fs.utimes(target, Date.now() / 1000, mtime);
}
