import fs from 'node:fs/promises';
import { objectKey, type BlobLocation } from '../../src/protocol/manifest.ts';
import type { CoordinatorClient } from '../coordinator-client.ts';
import { changedDuringRead, hashFile } from './hash-file.ts';
import { findMissingBlobs } from './missing-blobs.ts';
import { signPutUrl } from './signed-urls.ts';
import { putFile, StoreRequestError } from './store-http.ts';

/**
 * Contents of at least this many bytes are stored as objects of their own, smaller ones in packs.
 */
export const objectThresholdBytes = 1024 * 1024;

/** A large file's content as hashed: the state of the file that the hash belongs to. */
export interface HashedObject {
  hash: string;
  size: number;
  mtimeMs: number;
  mode: number;
}

export type ObjectUploadResult =
  /** The content is in the bucket. `uploaded` is true when this call sent it. */
  | { status: 'stored'; content: HashedObject; location: BlobLocation; uploaded: boolean }
  /** The file kept changing, so no consistent content could be stored. */
  | { status: 'unstable'; reason: string };

/**
 * Streams a large file to `objectKey(hash)`. When the file's size or mtime differs from when it
 * was hashed, or the store rejects the bytes (it checks them against the hash in the key), the
 * file is hashed and uploaded once more. If that also fails, the result is `unstable`.
 */
export async function uploadObject(
  client: CoordinatorClient,
  filePath: string,
  hashed: HashedObject,
  signal: AbortSignal,
): Promise<ObjectUploadResult> {
  const first = await tryUpload(client, filePath, hashed, signal);
  if (first !== 'changed') {
    return { status: 'stored', content: hashed, location: first, uploaded: true };
  }

  const again = await hashFile(filePath);
  if (changedDuringRead(again, again.size)) {
    return { status: 'unstable', reason: 'it changed while it was read' };
  }
  const content: HashedObject = {
    hash: again.hash,
    size: again.size,
    mtimeMs: again.before.mtimeMs,
    mode: again.before.mode & 0o7777,
  };

  const missing = await findMissingBlobs(client, [content.hash], signal);
  if (!missing.has(content.hash)) {
    return { status: 'stored', content, location: locationOf(content), uploaded: false };
  }

  const second = await tryUpload(client, filePath, content, signal);
  if (second === 'changed') {
    return { status: 'unstable', reason: 'it changed while it was uploaded' };
  }
  return { status: 'stored', content, location: second, uploaded: true };
}

async function tryUpload(
  client: CoordinatorClient,
  filePath: string,
  content: HashedObject,
  signal: AbortSignal,
): Promise<BlobLocation | 'changed'> {
  if (await changedSince(filePath, content)) return 'changed';

  const key = objectKey(content.hash);
  const url = await signPutUrl(client, key, signal);
  try {
    await putFile(url, key, filePath, content.size, signal);
  } catch (error) {
    if (error instanceof StoreRequestError && error.rejected) return 'changed';
    // A file that shrank mid-upload ends the body early, which fails the request without a
    // response.
    if (await changedSince(filePath, content)) return 'changed';
    throw error;
  }
  return locationOf(content);
}

async function changedSince(filePath: string, content: HashedObject): Promise<boolean> {
  const stats = await fs.lstat(filePath);
  return !stats.isFile() || stats.size !== content.size || stats.mtimeMs !== content.mtimeMs;
}

function locationOf(content: HashedObject): BlobLocation {
  return { hash: content.hash, key: objectKey(content.hash), offset: 0, length: content.size };
}
