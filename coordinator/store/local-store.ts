import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { SyncctlError, invalidInput, notFound } from '../../src/protocol/errors.ts';
import { expectedHashOfKey } from '../../src/protocol/manifest.ts';
import {
  assertValidBucket,
  assertValidKey,
  type ByteRange,
  type SignedOperation,
  type SignedTransferStore,
} from './object-store.ts';

export interface LocalStoreOptions {
  /** Folder that contains one sub-folder per bucket. */
  root: string;
  /** Base URL under which the coordinator serves `/store/...`, known once it listens. */
  publicUrl: () => string;
  /** HMAC key for signed URLs. */
  signingKey: Buffer;
}

/**
 * The embedded default store: each bucket is a folder, each key a file below it. Writes go to a
 * temp file that is renamed into place, so a reader never sees half an object, and keys that name
 * a SHA-256 must receive bytes with that hash.
 */
export class LocalStore implements SignedTransferStore {
  readonly kind = 'local' as const;
  private readonly options: LocalStoreOptions;

  constructor(options: LocalStoreOptions) {
    this.options = options;
  }

  async createBucket(bucket: string): Promise<void> {
    assertValidBucket(bucket);
    await fs.mkdir(path.join(this.bucketDir(bucket), '.tmp'), { recursive: true, mode: 0o700 });
  }

  async putObject(bucket: string, key: string, body: Buffer | string): Promise<void> {
    const target = this.objectPath(bucket, key);
    const temp = await this.tempPath(bucket);
    await fs.writeFile(temp, body, { mode: 0o600 });
    await this.moveIntoPlace(temp, target);
  }

  async getObject(bucket: string, key: string): Promise<Buffer | null> {
    try {
      return await fs.readFile(this.objectPath(bucket, key));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
  }

  async hasObject(bucket: string, key: string): Promise<boolean> {
    try {
      await fs.access(this.objectPath(bucket, key));
      return true;
    } catch {
      return false;
    }
  }

  signUrl(bucket: string, key: string, operation: SignedOperation, ttlSeconds: number): string {
    assertValidBucket(bucket);
    assertValidKey(key);
    const expires = String(Math.floor(Date.now() / 1000) + ttlSeconds);
    const signature = this.sign(bucket, key, operation, expires);
    const query = new URLSearchParams({ op: operation, expires, sig: signature });
    return `${this.options.publicUrl()}/store/${bucket}/${key}?${query}`;
  }

  verifySignature(bucket: string, key: string, operation: SignedOperation, expires: string, signature: string): void {
    const expected = Buffer.from(this.sign(bucket, key, operation, expires), 'hex');
    const given = Buffer.from(/^[0-9a-f]{64}$/.test(signature) ? signature : '', 'hex');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new SyncctlError('forbidden', `Invalid signature for ${operation} of "${key}" in bucket "${bucket}"`);
    }
    if (!/^\d+$/.test(expires) || Number(expires) * 1000 < Date.now()) {
      throw new SyncctlError('forbidden', `Signed URL for "${key}" expired at ${expires}; request a new one`);
    }
  }

  putObjectStream(bucket: string, key: string, body: Readable): Promise<{ size: number }> {
    return this.writeStream(bucket, key, body);
  }

  async writeStream(bucket: string, key: string, body: Readable): Promise<{ size: number }> {
    const target = this.objectPath(bucket, key);
    const temp = await this.tempPath(bucket);
    const hash = createHash('sha256');
    let size = 0;
    const hashing = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        hash.update(chunk);
        size += chunk.length;
        callback(null, chunk);
      },
    });

    try {
      await pipeline(body, hashing, createWriteStream(temp, { mode: 0o600 }));
      this.checkHash(key, hash.digest('hex'));
      await this.moveIntoPlace(temp, target);
      return { size };
    } catch (error) {
      await fs.rm(temp, { force: true });
      throw error;
    }
  }

  async readStream(bucket: string, key: string, range?: ByteRange) {
    const file = this.objectPath(bucket, key);
    let totalSize: number;
    try {
      totalSize = (await fs.stat(file)).size;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        throw notFound(`Object "${key}" not found in bucket "${bucket}"`);
      }
      throw error;
    }

    const start = range ? range.start : 0;
    const end = range ? Math.min(range.end, totalSize - 1) : totalSize - 1;
    if (start > end && totalSize > 0) {
      throw invalidInput(`Range ${start}-${range?.end} is outside "${key}" of ${totalSize} bytes`);
    }
    const size = totalSize === 0 ? 0 : end - start + 1;
    const stream = createReadStream(file, totalSize === 0 ? {} : { start, end, highWaterMark: 1 << 20 });
    return { stream, size, totalSize };
  }

  private checkHash(key: string, actual: string): void {
    const expected = expectedHashOfKey(key);
    if (expected !== null && expected !== actual) {
      throw invalidInput(`Content of "${key}" has SHA-256 ${actual}, not the ${expected} its key names; upload it again`);
    }
  }

  private sign(bucket: string, key: string, operation: SignedOperation, expires: string): string {
    return createHmac('sha256', this.options.signingKey)
      .update(`${operation}\n${bucket}\n${key}\n${expires}`)
      .digest('hex');
  }

  private bucketDir(bucket: string): string {
    assertValidBucket(bucket);
    return path.join(this.options.root, bucket);
  }

  private objectPath(bucket: string, key: string): string {
    assertValidKey(key);
    return path.join(this.bucketDir(bucket), key);
  }

  private async tempPath(bucket: string): Promise<string> {
    const dir = path.join(this.bucketDir(bucket), '.tmp');
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    return path.join(dir, randomBytes(12).toString('hex'));
  }

  private async moveIntoPlace(temp: string, target: string): Promise<void> {
    await fs.mkdir(path.dirname(target), { recursive: true, mode: 0o700 });
    await fs.rename(temp, target);
  }
}

/** Loads the store's signing key from the data folder, creating it (mode 0600) on first start. */
export async function loadSigningKey(dataDir: string): Promise<Buffer> {
  const file = path.join(dataDir, 'store-signing-key');
  try {
    return Buffer.from((await fs.readFile(file, 'utf8')).trim(), 'hex');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const key = randomBytes(32);
  await fs.writeFile(file, key.toString('hex'), { mode: 0o600, flag: 'wx' });
  return key;
}
