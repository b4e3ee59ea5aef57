import fs from 'node:fs/promises';
import path from 'node:path';
import { mapConcurrently } from '../concurrency.ts';
import type { CoordinatorClient } from '../coordinator-client.ts';
import { describeError } from '../fs-error-code.ts';
import { emptyContentHash, sha256Hex } from './hash-file.ts';
import type { RestoreItem } from './restore-run.ts';
import { copyFileAtomically, downloadVerifiedFile, writeFileAtomically } from './restore-writes.ts';
import type { RunProgressReporter } from './run-progress.ts';
import { signGetUrls } from './signed-urls.ts';
import { getBytes } from './store-http.ts';

/** Maximum bucket keys per GET URL request. URLs are requested shortly before their downloads. */
const keysPerUrlRequest = 200;

export interface RestoreContentsOptions {
  progress: RunProgressReporter;
  warnings: string[];
  signal: AbortSignal;
}

/**
 * Writes the content of every file entry. Each pack is downloaded once, whole, and split into
 * its contents. Each object is streamed into a temporary file. Every content's SHA-256 is
 * checked before it is renamed into place. Returns the files that were written.
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
      if (await writeWithoutBlob(item, options)) written.push(item);
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
    for (const key of chunk) {
      options.signal.throwIfAborted();
      const group = byKey.get(key)!;
      const done = key.startsWith('packs/')
        ? await restoreFromPack(urls.get(key)!, key, group, options)
        : await restoreFromObject(urls.get(key)!, key, group, options);
      written.push(...done);
    }
  }
  return written;
}

/** Writes a file entry that has no blob location, which is possible only for an empty file. */
async function writeWithoutBlob(
  item: RestoreItem,
  options: RestoreContentsOptions,
): Promise<boolean> {
  if (item.entry.size !== 0) {
    options.warnings.push(
      `Cannot restore ${item.entry.path}: the snapshot has no content location for it.`,
    );
    return false;
  }
  return writeItem(item, Buffer.alloc(0), options);
}

/** Files of one pack written at once. */
const writeConcurrency = 16;

async function restoreFromPack(
  url: string,
  key: string,
  group: RestoreItem[],
  options: RestoreContentsOptions,
): Promise<RestoreItem[]> {
  const pack = await getBytes(url, key, options.signal);
  const outcomes = await mapConcurrently(group, writeConcurrency, async (item) => {
    const blob = item.entry.blob!;
    const bytes = pack.subarray(blob.offset, blob.offset + blob.length);
    if (bytes.length !== blob.length || !matchesEntry(item, sha256Hex(bytes))) {
      options.warnings.push(
        `Cannot restore ${item.entry.path}: its content in ${key} failed the SHA-256 check.`,
      );
      return false;
    }
    return writeItem(item, bytes, options);
  });
  return group.filter((_, index) => outcomes[index]);
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
    await fs.mkdir(path.dirname(first.target), { recursive: true });
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
      await fs.mkdir(path.dirname(item.target), { recursive: true });
      await copyFileAtomically(first.target, item.target);
      options.progress.add({ files: 1, bytes: item.entry.size });
      written.push(item);
    } catch (error) {
      options.warnings.push(`Cannot restore ${item.target}: ${describeError(error)}.`);
    }
  }
  return written;
}

function matchesEntry(item: RestoreItem, hash: string): boolean {
  const { entry } = item;
  return entry.blob?.hash === hash && (entry.hash === undefined || entry.hash === hash);
}

async function writeItem(
  item: RestoreItem,
  bytes: Uint8Array,
  options: RestoreContentsOptions,
): Promise<boolean> {
  if (bytes.length === 0 && item.entry.hash !== undefined && item.entry.hash !== emptyContentHash) {
    options.warnings.push(
      `Cannot restore ${item.entry.path}: it is empty but its hash is not the empty hash.`,
    );
    return false;
  }
  try {
    await fs.mkdir(path.dirname(item.target), { recursive: true });
    await writeFileAtomically(item.target, bytes);
  } catch (error) {
    options.warnings.push(`Cannot restore ${item.target}: ${describeError(error)}.`);
    return false;
  }
  options.progress.add({ files: 1, bytes: bytes.length });
  return true;
}
