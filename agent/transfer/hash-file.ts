import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import type { SlabPool } from './slab-pool.ts';
import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs';

/** SHA-256 of some bytes, as 64 lowercase hex digits. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** SHA-256 of zero bytes: the hash of every empty file, which needs no stored content. */
export const emptyContentHash = sha256Hex(Buffer.alloc(0));

/** The hash of a file's content together with the file's state before and after the read. */
export interface FileHash {
  hash: string;
  /** Number of bytes hashed. */
  size: number;
  before: Stats;
  after: Stats;
}

/**
 * Hashes a file by streaming it through SHA-256, so memory use does not grow with its size.
 * Reads through one open handle and fstats it before and after, so a caller can tell with
 * `changedDuringRead` whether a writer touched the file meanwhile. `flags` are the open flags,
 * such as `openNoFollow`.
 */
export async function hashFile(absolutePath: string, flags: string | number = 'r'): Promise<FileHash> {
  const handle = await fs.open(absolutePath, flags);
  try {
    const before = await handle.stat();
    const hasher = createHash('sha256');
    let size = 0;
    for await (const chunk of handle.createReadStream({
      autoClose: false,
      highWaterMark: 1 << 20,
    })) {
      hasher.update(chunk as Buffer);
      size += (chunk as Buffer).length;
    }
    const after = await handle.stat();
    return { hash: hasher.digest('hex'), size, before, after };
  } finally {
    await handle.close();
  }
}

/** A small file's whole content with the file's state before and after the read. */
export interface FileContent {
  bytes: Buffer;
  hash: string;
  before: Stats;
  after: Stats;
}

/** The outcome of `readIfSmall`. */
export type SmallFileRead =
  | ({ kind: 'small' } & FileContent)
  /** The file is too large to read into memory; hash it with `hashFile`. */
  | { kind: 'large' }
  /** The path is no longer a regular file: a symlink, folder or special file replaced it. */
  | { kind: 'notFile' };

/** Flags that open a regular file without following a symlink or blocking on a FIFO. */
export const openNoFollow = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

/**
 * Reads a file into memory and hashes it when it is a regular file of at most `maxSize` bytes.
 * At most `maxSize + 1` bytes are read, so a file that grew meanwhile shows up as changed instead
 * of filling memory. The open does not follow symlinks, so no separate lstat is needed. With
 * `pool`, the bytes come from it, and the caller releases them.
 *
 * The calls are synchronous on purpose: for files under 1 MiB the five system calls take a few
 * microseconds each, while their promise forms cost a thread-pool round trip each, which made
 * reading many small files several times slower.
 * NOTE: on a slow network file system each call blocks the agent's event loop while it waits.
 */
export function readIfSmall(absolutePath: string, maxSize: number, pool?: SlabPool): SmallFileRead {
  let fd: number;
  try {
    fd = openSync(absolutePath, openNoFollow);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ELOOP') return { kind: 'notFile' };
    throw error;
  }
  try {
    const before = fstatSync(fd);
    if (!before.isFile()) return { kind: 'notFile' };
    if (before.size > maxSize) return { kind: 'large' };
    const buffer = pool?.allocate(before.size + 1) ?? Buffer.allocUnsafe(before.size + 1);
    let length = 0;
    try {
      while (length < buffer.length) {
        const bytesRead = readSync(fd, buffer, length, buffer.length - length, length);
        if (bytesRead === 0) break;
        length += bytesRead;
      }
      const after = fstatSync(fd);
      const bytes = buffer.subarray(0, length);
      return { kind: 'small', bytes, hash: sha256Hex(bytes), before, after };
    } catch (error) {
      pool?.release(buffer);
      throw error;
    }
  } finally {
    closeSync(fd);
  }
}

/**
 * True when the read bytes may mix two states of the file: its size or mtime changed during the
 * read, or the number of bytes read differs from the size before it.
 */
export function changedDuringRead(
  read: { before: Stats; after: Stats },
  bytesRead: number,
): boolean {
  const { before, after } = read;
  return (
    before.size !== after.size || before.mtimeMs !== after.mtimeMs || bytesRead !== before.size
  );
}
