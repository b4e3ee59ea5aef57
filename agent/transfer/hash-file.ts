import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import { closeSync, fstatSync, openSync, readSync, type Stats } from 'node:fs';

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
 * `changedDuringRead` whether a writer touched the file meanwhile.
 */
export async function hashFile(absolutePath: string): Promise<FileHash> {
  const handle = await fs.open(absolutePath, 'r');
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

/**
 * Reads a small file into memory and hashes it. At most `maxSize + 1` bytes are read, so a file
 * that grew past `maxSize` since its lstat shows up as changed instead of filling memory.
 *
 * The calls are synchronous on purpose: for files under 1 MiB the five system calls take a few
 * microseconds each, while their promise forms cost a thread-pool round trip each, which made
 * reading many small files several times slower.
 * NOTE: on a slow network file system each call blocks the agent's event loop while it waits.
 */
export async function readSmallFile(absolutePath: string, maxSize: number): Promise<FileContent> {
  const fd = openSync(absolutePath, 'r');
  try {
    const before = fstatSync(fd);
    const buffer = Buffer.allocUnsafe(Math.min(before.size, maxSize) + 1);
    let length = 0;
    while (length < buffer.length) {
      const bytesRead = readSync(fd, buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    const after = fstatSync(fd);
    const bytes = buffer.subarray(0, length);
    return { bytes, hash: sha256Hex(bytes), before, after };
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
