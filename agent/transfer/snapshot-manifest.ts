import { createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { manifestKey, type ManifestEntry } from '../../src/protocol/manifest.ts';
import type { CoordinatorClient } from '../coordinator-client.ts';
import type { ManifestCache } from '../manifest-cache.ts';
import { readManifestFile } from './manifest-file.ts';
import { signGetUrls } from './signed-urls.ts';
import { getStream } from './store-http.ts';

export interface SnapshotRef {
  configId: number;
  resourceId: number;
  snapshotId: number;
  /** A signed GET URL of the manifest, when the coordinator sent one. */
  manifestUrl?: string;
}

/**
 * Loads the entries of a committed snapshot of this agent, keyed by path: from memory or the
 * manifest cache when either contains that snapshot, else downloaded by signed URL and then
 * cached. The map is shared with the cache, so callers must not change it.
 */
export async function loadSnapshotEntries(
  client: CoordinatorClient,
  cache: ManifestCache,
  snapshot: SnapshotRef,
  signal?: AbortSignal,
): Promise<ReadonlyMap<string, ManifestEntry>> {
  const remembered = cache.recall(snapshot.configId, snapshot.snapshotId);
  if (remembered !== null) return remembered;
  const cached = await cache.find(snapshot.configId, snapshot.snapshotId);
  if (cached !== null) return entriesByPath((await readManifestFile(cached)).entries);

  const key = manifestKey(snapshot.configId, snapshot.resourceId, snapshot.snapshotId);
  const url = snapshot.manifestUrl ?? (await signGetUrls(client, [key], signal)).get(key)!;
  const downloaded = cache.temporaryPath(`manifest-${snapshot.snapshotId}`);
  try {
    await downloadToFile(url, key, downloaded, signal);
    const { header, entries } = await readManifestFile(downloaded);
    if (header.snapshotId !== snapshot.snapshotId || header.configId !== snapshot.configId) {
      throw new Error(
        `Manifest ${key} contains snapshot ${header.snapshotId} of config ${header.configId}, not snapshot ${snapshot.snapshotId} of config ${snapshot.configId}.`,
      );
    }
    await cache.store(snapshot.configId, downloaded);
    return entriesByPath(entries);
  } finally {
    await fs.rm(downloaded, { force: true });
  }
}

/** Downloads a bucket object by signed URL into a file, streaming. */
export async function downloadToFile(
  url: string,
  key: string,
  filePath: string,
  signal?: AbortSignal,
): Promise<void> {
  const body = await getStream(url, key, signal);
  await pipeline(body, createWriteStream(filePath, { mode: 0o600 }));
}

export function entriesByPath(entries: Iterable<ManifestEntry>): Map<string, ManifestEntry> {
  const byPath = new Map<string, ManifestEntry>();
  for (const entry of entries) byPath.set(entry.path, entry);
  return byPath;
}
