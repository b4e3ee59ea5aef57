import type { Readable } from 'node:stream';

export type SignedOperation = 'get' | 'put';

/** Byte range of a GET, both ends inclusive as in an HTTP Range header. */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * Buckets and objects of one storage backend. Agents move file contents through signed URLs;
 * the coordinator itself only writes small objects such as installers.
 */
export interface ObjectStore {
  readonly kind: 'local' | 's3';
  createBucket(bucket: string): Promise<void>;
  putObject(bucket: string, key: string, body: Buffer | string): Promise<void>;
  /** Returns the object's bytes, or null when it does not exist. For small objects only. */
  getObject(bucket: string, key: string): Promise<Buffer | null>;
  hasObject(bucket: string, key: string): Promise<boolean>;
  /** Streams a body into an object; a content-addressed key must receive bytes with its hash. */
  putObjectStream(bucket: string, key: string, body: Readable): Promise<{ size: number }>;
  signUrl(bucket: string, key: string, operation: SignedOperation, ttlSeconds: number): string;
}

/** The local store's own transfer endpoint, served by the coordinator at `/store/...`. */
export interface SignedTransferStore extends ObjectStore {
  verifySignature(bucket: string, key: string, operation: SignedOperation, expires: string, signature: string): void;
  writeStream(bucket: string, key: string, body: Readable): Promise<{ size: number }>;
  readStream(bucket: string, key: string, range?: ByteRange): Promise<{ stream: Readable; size: number; totalSize: number }>;
}

/** Bucket and key names: no absolute paths, no `..`, a conservative character set. */
export function assertValidKey(key: string): void {
  const segments = key.split('/');
  const valid =
    /^[A-Za-z0-9._\-/]+$/.test(key) &&
    !key.startsWith('/') &&
    !key.startsWith('.') &&
    segments.every((segment) => segment !== '' && segment !== '.' && segment !== '..');
  if (!valid) throw new Error(`Invalid object key "${key}": use letters, digits, ".", "_", "-" and "/" separators`);
}

export function assertValidBucket(bucket: string): void {
  if (!/^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/.test(bucket)) {
    throw new Error(`Invalid bucket name "${bucket}": use 3 to 63 lower-case letters, digits and "-"`);
  }
}
