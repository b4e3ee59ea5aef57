import { objectKey, type BlobLocation, type ManifestEntry } from '../../src/protocol/manifest.ts';
import { mapConcurrently } from '../concurrency.ts';
import type { CoordinatorClient } from '../coordinator-client.ts';
import { describeError, fsErrorCode, isNotFound } from '../fs-error-code.ts';
import type { PathChange } from '../watcher/path-change.ts';
import { changedDuringRead, hashFile, openNoFollow, readIfSmall } from './hash-file.ts';
import { findMissingBlobs } from './missing-blobs.ts';
import { objectThresholdBytes, uploadObject, type HashedObject } from './object-upload.ts';
import { PackWriter } from './pack-writer.ts';
import { SlabPool } from './slab-pool.ts';
import type { RunProgressReporter } from './run-progress.ts';
import { signPutUrl } from './signed-urls.ts';
import { putBytes } from './store-http.ts';

/**
 * Maximum bytes of small contents kept in memory between reading them and packing them. Small
 * batches let the memory of one batch be reused for the next. With 64 MiB, the kernel had to
 * provide fresh pages for most reads.
 */
const maxBufferedBytes = 16 * 1024 * 1024;

/** Maximum files per batch, each batch checked with one `POST /agent/blobs/missing`. */
const maxFilesPerBatch = 1000;

export interface ContentUploadOptions {
  client: CoordinatorClient;
  signal: AbortSignal;
  /** The new tree; entries of `toHash` get their hash and blob, or revert to `base`. */
  entries: Map<string, ManifestEntry>;
  base: ReadonlyMap<string, ManifestEntry> | null;
  toHash: readonly string[];
  progress: RunProgressReporter;
  warnings: string[];
  retry: PathChange[];
}

type ReadContent =
  | { kind: 'small'; path: string; bytes: Buffer; content: HashedObject }
  | { kind: 'large'; path: string; content: HashedObject };

/**
 * Hashes the files of `toHash` and uploads the contents the bucket lacks: small ones into packs,
 * large ones as objects. Files are taken in batches of at most `maxFilesPerBatch`, each checked
 * with one `POST /agent/blobs/missing`. Returns the locations of every content this run stored.
 */
export async function uploadContents(options: ContentUploadOptions): Promise<BlobLocation[]> {
  const { client, signal } = options;
  // Built on first use: an incremental run whose changed files are all new content needs none.
  let knownLocations: Map<string, BlobLocation> | null = null;
  const knownLocation = (hash: string): BlobLocation | undefined => {
    knownLocations ??= locationsByHash(options.base);
    return knownLocations.get(hash);
  };
  const newBlobs: BlobLocation[] = [];
  const uploadedObjects = new Map<string, BlobLocation>();
  const waitingForPack = new Map<string, Array<{ path: string; content: HashedObject }>>();
  const packs = new PackWriter(async (key, bytes) => {
    const url = await signPutUrl(client, key, signal);
    await putBytes(url, key, bytes, signal);
  });

  const placePacked = (locations: BlobLocation[]): void => {
    newBlobs.push(...locations);
    for (const location of locations) {
      for (const waiting of waitingForPack.get(location.hash) ?? []) {
        setContent(options.entries, waiting.path, waiting.content, location);
      }
      waitingForPack.delete(location.hash);
    }
  };

  const pool = new SlabPool();
  for await (const batch of readBatches(options, pool)) {
    signal.throwIfAborted();
    const missing = await findMissingBlobs(
      client,
      batch.map((read) => read.content.hash),
      signal,
    );

    const large = batch.filter((read) => read.kind === 'large');
    const storingLarge = storeLargeBatch(options, large, missing, uploadedObjects, newBlobs);
    // Awaited below; this keeps a failure from counting as unhandled while the packs fill.
    storingLarge.catch(() => undefined);

    for (const read of batch) {
      if (read.kind === 'large') continue;
      const { hash } = read.content;
      const location =
        packs.locationOf(hash) ?? (missing.has(hash) ? undefined : knownLocation(hash));
      if (location !== undefined) {
        setContent(options.entries, read.path, read.content, location);
        pool.release(read.bytes);
        continue;
      }

      // The bucket lacks the content, or has it at a location this agent does not know.
      if (!packs.has(hash)) {
        options.progress.add({ filesUploaded: 1, bytesUploaded: read.bytes.length });
      }
      const waiting = waitingForPack.get(hash) ?? [];
      waiting.push({ path: read.path, content: read.content });
      waitingForPack.set(hash, waiting);
      placePacked(await packs.append(hash, read.bytes));
      pool.release(read.bytes);
    }
    await storingLarge;
  }

  placePacked(await packs.flush());
  return newBlobs;
}

/** Large files whose objects upload at once, while small files fill packs. */
const objectConcurrency = 2;

/**
 * Stores the large files of one batch, `objectConcurrency` distinct contents at a time. A file
 * whose content another file of the run stored already only gets its entry set.
 */
async function storeLargeBatch(
  options: ContentUploadOptions,
  large: Array<Extract<ReadContent, { kind: 'large' }>>,
  missing: ReadonlySet<string>,
  uploadedObjects: Map<string, BlobLocation>,
  newBlobs: BlobLocation[],
): Promise<void> {
  const storeOne = async (read: Extract<ReadContent, { kind: 'large' }>): Promise<void> => {
    const { hash } = read.content;
    const uploaded = uploadedObjects.get(hash);
    if (uploaded !== undefined) {
      setContent(options.entries, read.path, read.content, uploaded);
      return;
    }
    const stored = await storeLarge(options, read, missing.has(hash));
    if (stored?.uploaded === true) {
      uploadedObjects.set(stored.location.hash, stored.location);
      newBlobs.push(stored.location);
    }
  };

  // Files that repeat a content of this batch wait until its first file is stored.
  const firsts: typeof large = [];
  const repeats: typeof large = [];
  const seen = new Set<string>();
  for (const read of large) {
    if (seen.has(read.content.hash)) repeats.push(read);
    else firsts.push(read);
    seen.add(read.content.hash);
  }
  await mapConcurrently(firsts, objectConcurrency, storeOne);
  for (const read of repeats) await storeOne(read);
}

/**
 * Stores a large file's content as an object unless the bucket has it, and sets its entry.
 * Returns the object's location and whether this call uploaded it, or null when the file is left
 * for the next run.
 */
async function storeLarge(
  options: ContentUploadOptions,
  read: Extract<ReadContent, { kind: 'large' }>,
  isMissing: boolean,
): Promise<{ location: BlobLocation; uploaded: boolean } | null> {
  const { hash, size } = read.content;
  if (!isMissing) {
    const location = { hash, key: objectKey(hash), offset: 0, length: size };
    setContent(options.entries, read.path, read.content, location);
    return { location, uploaded: false };
  }

  let result;
  try {
    result = await uploadObject(options.client, read.path, read.content, options.signal);
  } catch (error) {
    if (fsErrorCode(error) === undefined) throw error;
    leaveForNextRun(options, read.path, error);
    return null;
  }
  if (result.status === 'unstable') {
    leaveForNextRun(options, read.path, result.reason);
    return null;
  }

  setContent(options.entries, read.path, result.content, result.location);
  if (result.uploaded) {
    options.progress.add({ filesUploaded: 1, bytesUploaded: result.content.size });
  }
  return { location: result.location, uploaded: result.uploaded };
}

/** Files read at once: enough to hide the latency of each open, stat and read, few enough to bound memory. */
const readConcurrency = 16;

/**
 * Reads the files to hash, several at a time but yielded in order, in batches bounded by count
 * and by buffered bytes.
 */
async function* readBatches(options: ContentUploadOptions, pool: SlabPool): AsyncGenerator<ReadContent[]> {
  const reading: Promise<ReadContent | null>[] = [];
  let next = 0;
  const fill = () => {
    while (reading.length < readConcurrency && next < options.toHash.length) {
      const pending = readContent(options, options.toHash[next], pool);
      // Awaited in order below; this only keeps a failure from counting as unhandled meanwhile.
      pending.catch(() => undefined);
      reading.push(pending);
      next += 1;
    }
  };

  let batch: ReadContent[] = [];
  let bufferedBytes = 0;
  fill();
  while (reading.length > 0) {
    options.signal.throwIfAborted();
    const read = await reading.shift()!;
    fill();
    if (read === null) continue;

    batch.push(read);
    if (read.kind === 'small') bufferedBytes += read.bytes.length;
    if (batch.length >= maxFilesPerBatch || bufferedBytes >= maxBufferedBytes) {
      yield batch;
      batch = [];
      bufferedBytes = 0;
    }
  }
  if (batch.length > 0) yield batch;
}

/**
 * Reads one file: whole into memory below 1 MiB, else hashed as a stream. A file that changed
 * during the read is read once more. Returns null when the file is left as its base entry.
 */
async function readContent(
  options: ContentUploadOptions,
  filePath: string,
  pool: SlabPool,
): Promise<ReadContent | null> {
  try {
    for (let attempt = 0; attempt < 2; attempt += 1) {
      const small = readIfSmall(filePath, objectThresholdBytes - 1, pool);
      if (small.kind === 'notFile') break;

      if (small.kind === 'small') {
        if (changedDuringRead(small, small.bytes.length)) {
          pool.release(small.bytes);
          continue;
        }
        const content = { hash: small.hash, size: small.bytes.length, ...stateOf(small.before) };
        return { kind: 'small', path: filePath, bytes: small.bytes, content };
      }

      const large = await hashFile(filePath, openNoFollow).catch((error: unknown) => {
        if (fsErrorCode(error) === 'ELOOP') return null;
        throw error;
      });
      if (large === null || !large.before.isFile()) break;
      if (changedDuringRead(large, large.size)) continue;
      return {
        kind: 'large',
        path: filePath,
        content: { hash: large.hash, size: large.size, ...stateOf(large.before) },
      };
    }
  } catch (error) {
    if (fsErrorCode(error) === undefined) throw error;
    leaveForNextRun(options, filePath, error);
    return null;
  }
  leaveForNextRun(options, filePath, 'it changed while it was read');
  return null;
}

function stateOf(stats: { mtimeMs: number; mode: number }): { mtimeMs: number; mode: number } {
  return { mtimeMs: stats.mtimeMs, mode: stats.mode & 0o7777 };
}

/**
 * Keeps the base entry of a file whose content could not be stored (or drops the file from this
 * snapshot if it is new), warns unless the file simply vanished, and reports it for the next run.
 */
function leaveForNextRun(options: ContentUploadOptions, filePath: string, reason: unknown): void {
  const before = options.base?.get(filePath);
  if (before !== undefined) options.entries.set(filePath, before);
  else options.entries.delete(filePath);
  options.retry.push({ path: filePath, kind: 'change' });

  if (isNotFound(reason)) return;
  const why = typeof reason === 'string' ? reason : describeError(reason);
  const outcome =
    before !== undefined ? 'its earlier backup is kept' : 'it is not in this snapshot';
  options.warnings.push(
    `Cannot back up ${filePath}: ${why}; ${outcome} and the next run tries again.`,
  );
}

function setContent(
  entries: Map<string, ManifestEntry>,
  filePath: string,
  content: HashedObject,
  location: BlobLocation,
): void {
  const entry = entries.get(filePath);
  if (entry === undefined) return;
  entries.set(filePath, { ...entry, ...content, blob: location });
}

function locationsByHash(
  base: ReadonlyMap<string, ManifestEntry> | null,
): Map<string, BlobLocation> {
  const locations = new Map<string, BlobLocation>();
  for (const entry of base?.values() ?? []) {
    if (entry.blob !== undefined) locations.set(entry.blob.hash, entry.blob);
  }
  return locations;
}
