import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { mapConcurrently } from '../concurrency.ts';
import type { CoordinatorClient } from '../coordinator-client.ts';
import { describeError } from '../fs-error-code.ts';
import { emptyContentHash, sha256Hex } from './hash-file.ts';
import type { RestoreItem } from './restore-run.ts';
import {
  applyMetadata,
  copyFileAtomically,
  downloadVerifiedFile,
  writeRestoredFile,
} from './restore-writes.ts';
import type { RunProgressReporter } from './run-progress.ts';
import { signGetUrls } from './signed-urls.ts';
import { getBytes } from './store-http.ts';

/** Maximum bucket keys per GET URL request. URLs are requested shortly before their downloads. */
const keysPerUrlRequest = 200;

export interface RestoreContentsOptions {
  progress: RunProgressReporter;
  warnings: string[];
  signal: AbortSignal;
  /** Folders known to exist. Parents created for files are added, so each is created once. */
  existingFolders: Set<string>;
}

/**
 * Writes the content of every file entry, with its mode and mtime. Each pack is downloaded once,
 * whole, and split into its contents, and the next pack downloads while one is written. Each
 * object is streamed into a temporary file. Every content's SHA-256 is checked before it is
 * written or renamed into place. Returns the files that were written.
 */
export async function restoreFileContents(
  client: CoordinatorClient,
  files: RestoreItem[],
  options: RestoreContentsOptions,
): Promise<RestoreItem[]> {
  const written: RestoreItem[] = [];
  const byKey = new Map<string, RestoreItem[]>();
  for (const item of files) {
    const { blob } = item.entry;
    if (blob === undefined) {
      if (writeWithoutBlob(item, options)) written.push(item);
      continue;
    }
    const group = byKey.get(blob.key) ?? [];
    group.push(item);
    byKey.set(blob.key, group);
  }

  const keys = [...byKey.keys()];
  for (let start = 0; start < keys.length; start += keysPerUrlRequest) {
    const chunk = keys.slice(start, start + keysPerUrlRequest);
    const urls = await signGetUrls(client, chunk, options.signal);
    const packKeys = chunk.filter(isPackKey);
    const objectKeys = chunk.filter((key) => !isPackKey(key));
    const [fromPacks, fromObjects] = await Promise.all([
      restorePacks(packKeys, urls, byKey, options),
      mapConcurrently(objectKeys, objectConcurrency, (key) =>
        restoreFromObject(urls.get(key)!, key, byKey.get(key)!, options),
      ),
    ]);
    written.push(...fromPacks, ...fromObjects.flat());
  }
  return written;
}

/**
 * Objects downloaded at once, so that one object's file writes overlap the other's transfer and
 * SHA-256 check.
 */
const objectConcurrency = 2;

/** Restores the files of each pack in turn, with the next pack downloading meanwhile. */
async function restorePacks(
  packKeys: readonly string[],
  urls: ReadonlyMap<string, string>,
  byKey: ReadonlyMap<string, RestoreItem[]>,
  options: RestoreContentsOptions,
): Promise<RestoreItem[]> {
  const written: RestoreItem[] = [];
  const packs = new PackPrefetch(urls, options.signal);
  for (const [index, key] of packKeys.entries()) {
    options.signal.throwIfAborted();
    const pack = packs.take(key);
    if (index + 1 < packKeys.length) packs.start(packKeys[index + 1]);
    written.push(...restoreFromPack(await pack, key, byKey.get(key)!, options));
  }
  return written;
}

function isPackKey(key: string): boolean {
  return key.startsWith('packs/');
}

/** Pack downloads started ahead of their use, so the network and the disk work at once. */
class PackPrefetch {
  private readonly urls: ReadonlyMap<string, string>;
  private readonly signal: AbortSignal;
  private readonly started = new Map<string, Promise<Buffer>>();

  constructor(urls: ReadonlyMap<string, string>, signal: AbortSignal) {
    this.urls = urls;
    this.signal = signal;
  }

  start(key: string): void {
    if (this.started.has(key)) return;
    const download = getBytes(this.urls.get(key)!, key, this.signal);
    // Awaited by `take`; this keeps a failure from counting as unhandled meanwhile.
    download.catch(() => undefined);
    this.started.set(key, download);
  }

  /** Returns the download of `key`, starting it now unless it was started before. */
  take(key: string): Promise<Buffer> {
    this.start(key);
    const download = this.started.get(key)!;
    this.started.delete(key);
    return download;
  }
}

/** Writes a file entry that has no blob location, which is possible only for an empty file. */
function writeWithoutBlob(item: RestoreItem, options: RestoreContentsOptions): boolean {
  if (item.entry.size !== 0) {
    options.warnings.push(
      `Cannot restore ${item.entry.path}: the snapshot has no content location for it.`,
    );
    return false;
  }
  return writeItem(item, Buffer.alloc(0), options);
}

function restoreFromPack(
  pack: Buffer,
  key: string,
  group: RestoreItem[],
  options: RestoreContentsOptions,
): RestoreItem[] {
  const written: RestoreItem[] = [];
  for (const item of group) {
    const blob = item.entry.blob!;
    const bytes = pack.subarray(blob.offset, blob.offset + blob.length);
    if (bytes.length !== blob.length || !matchesEntry(item, sha256Hex(bytes))) {
      options.warnings.push(
        `Cannot restore ${item.entry.path}: its content in ${key} failed the SHA-256 check.`,
      );
      continue;
    }
    if (writeItem(item, bytes, options)) written.push(item);
  }
  return written;
}

/** Streams an object to the first file of the group and copies that file to the others. */
async function restoreFromObject(
  url: string,
  key: string,
  group: RestoreItem[],
  options: RestoreContentsOptions,
): Promise<RestoreItem[]> {
  const [first, ...others] = group;
  const blob = first.entry.blob!;
  try {
    ensureParent(first.target, options);
    const verified = await downloadVerifiedFile(
      url,
      key,
      first.target,
      { hash: blob.hash, length: blob.length },
      options.signal,
    );
    if (!verified || !matchesEntry(first, blob.hash)) {
      options.warnings.push(
        `Cannot restore ${first.entry.path}: object ${key} failed the SHA-256 check.`,
      );
      return [];
    }
  } catch (error) {
    if (options.signal.aborted) throw error;
    options.warnings.push(`Cannot restore ${first.target}: ${describeError(error)}.`);
    return [];
  }
  options.progress.add({ files: 1, bytes: first.entry.size });

  const written = [first];
  for (const item of others) {
    try {
      ensureParent(item.target, options);
      await copyFileAtomically(first.target, item.target);
      options.progress.add({ files: 1, bytes: item.entry.size });
      written.push(item);
    } catch (error) {
      options.warnings.push(`Cannot restore ${item.target}: ${describeError(error)}.`);
    }
  }
  // The copies are made from the first file, so its mode is set only after them.
  for (const item of written) await applyFileMetadata(item, options);
  return written;
}

async function applyFileMetadata(item: RestoreItem, options: RestoreContentsOptions): Promise<void> {
  try {
    await applyMetadata(item.target, item.entry);
  } catch (error) {
    options.warnings.push(`Cannot set mode and mtime of ${item.target}: ${describeError(error)}.`);
  }
}

function matchesEntry(item: RestoreItem, hash: string): boolean {
  const { entry } = item;
  return entry.blob?.hash === hash && (entry.hash === undefined || entry.hash === hash);
}

function writeItem(item: RestoreItem, bytes: Uint8Array, options: RestoreContentsOptions): boolean {
  if (bytes.length === 0 && item.entry.hash !== undefined && item.entry.hash !== emptyContentHash) {
    options.warnings.push(
      `Cannot restore ${item.entry.path}: it is empty but its hash is not the empty hash.`,
    );
    return false;
  }
  try {
    ensureParent(item.target, options);
    writeRestoredFile(item.target, bytes, item.entry);
  } catch (error) {
    options.warnings.push(`Cannot restore ${item.target}: ${describeError(error)}.`);
    return false;
  }
  options.progress.add({ files: 1, bytes: bytes.length });
  return true;
}

/** Creates the parent folder of `target` unless it is known to exist. */
function ensureParent(target: string, options: RestoreContentsOptions): void {
  const parent = path.dirname(target);
  if (options.existingFolders.has(parent)) return;
  mkdirSync(parent, { recursive: true });
  options.existingFolders.add(parent);
}
