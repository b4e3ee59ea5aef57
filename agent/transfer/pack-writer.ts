import { packKey, type BlobLocation } from '../../src/protocol/manifest.ts';
import { sha256Hex } from './hash-file.ts';

/** Size at which a pack is flushed. A pack ends up below this plus the largest small content. */
export const packTargetBytes = 8 * 1024 * 1024;

/** Packs uploaded at once while the next one fills, so reading and uploading overlap. */
export const defaultPacksInFlight = 2;

/**
 * Stores a finished pack under its content-addressed key. `bytes` is lent for the call: the
 * writer reuses its memory for a later pack once the promise settles.
 */
export type PackUploader = (key: string, bytes: Buffer) => Promise<void>;

interface PendingContent {
  hash: string;
  offset: number;
  length: number;
}

/**
 * Collects small contents into packs of about `targetBytes` and uploads each full pack under
 * `packKey(sha256 of the pack)`. Each content is stored once per writer, and its location
 * (pack key, offset, length) is known once its pack is stored.
 *
 * Up to `maxInFlight` packs upload while the next one fills. Contents are copied into a pack
 * buffer as they are appended, and the buffers of stored packs are reused, so a run of many packs
 * allocates only `maxInFlight + 1` of them. An upload that fails makes the next `append` or
 * `flush` throw its error.
 */
export class PackWriter {
  private readonly upload: PackUploader;
  private readonly targetBytes: number;
  private readonly maxInFlight: number;
  private buffer: Buffer | null = null;
  private filled = 0;
  private contents: PendingContent[] = [];
  private readonly buffered = new Set<string>();
  private readonly flushed = new Map<string, BlobLocation>();
  private readonly spareBuffers: Buffer[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private stored: BlobLocation[] = [];
  private failure: { error: unknown } | null = null;

  constructor(upload: PackUploader, targetBytes = packTargetBytes, maxInFlight = defaultPacksInFlight) {
    this.upload = upload;
    this.targetBytes = targetBytes;
    this.maxInFlight = Math.max(1, maxInFlight);
  }

  /** True when the content was appended before, whether or not its pack is stored yet. */
  has(hash: string): boolean {
    return this.buffered.has(hash) || this.flushed.has(hash);
  }

  /** Returns the location of a content whose pack was stored, or undefined. */
  locationOf(hash: string): BlobLocation | undefined {
    return this.flushed.get(hash);
  }

  /**
   * Appends a content unless it was appended before, and starts the pack's upload once it
   * reaches the target size, waiting first while `maxInFlight` uploads run. Returns the
   * locations of the contents of every pack stored since the last call.
   */
  async append(hash: string, bytes: Uint8Array): Promise<BlobLocation[]> {
    this.throwIfFailed();
    if (this.has(hash)) return this.takeStored();

    if (this.buffer !== null && this.filled + bytes.length > this.buffer.length) await this.startUpload();
    if (this.buffer === null) this.buffer = this.takeBuffer(bytes.length);
    this.buffer.set(bytes, this.filled);
    this.contents.push({ hash, offset: this.filled, length: bytes.length });
    this.filled += bytes.length;
    this.buffered.add(hash);

    if (this.filled >= this.targetBytes) await this.startUpload();
    return this.takeStored();
  }

  /**
   * Uploads the buffered contents as one pack and waits for every upload. Returns the locations
   * of the contents of every pack stored since the last call, or [] when there were none.
   */
  async flush(): Promise<BlobLocation[]> {
    this.throwIfFailed();
    await this.startUpload();
    while (this.inFlight.size > 0) await Promise.race(this.inFlight);
    this.throwIfFailed();
    return this.takeStored();
  }

  /** Starts uploading the current pack, after waiting for a free upload slot. */
  private async startUpload(): Promise<void> {
    if (this.buffer === null || this.contents.length === 0) return;
    while (this.inFlight.size >= this.maxInFlight) await Promise.race(this.inFlight);
    this.throwIfFailed();

    const buffer = this.buffer;
    const pack = buffer.subarray(0, this.filled);
    const contents = this.contents;
    this.buffer = null;
    this.filled = 0;
    this.contents = [];

    const key = packKey(sha256Hex(pack));
    const upload = this.upload(key, pack).then(
      () => this.recordStored(key, contents),
      (error: unknown) => {
        this.failure ??= { error };
      },
    );
    const tracked = upload.finally(() => {
      this.inFlight.delete(tracked);
      this.spareBuffers.push(buffer);
    });
    this.inFlight.add(tracked);
  }

  private recordStored(key: string, contents: readonly PendingContent[]): void {
    for (const { hash, offset, length } of contents) {
      const location = { hash, key, offset, length };
      this.stored.push(location);
      this.flushed.set(hash, location);
      this.buffered.delete(hash);
    }
  }

  /** Returns a buffer with room for a pack and a content of `minimum` bytes, reusing a spare one. */
  private takeBuffer(minimum: number): Buffer {
    const capacity = this.targetBytes + minimum;
    const index = this.spareBuffers.findIndex((spare) => spare.length >= capacity);
    if (index >= 0) return this.spareBuffers.splice(index, 1)[0];
    return Buffer.allocUnsafeSlow(Math.max(capacity, Math.ceil(this.targetBytes * 1.125)));
  }

  private takeStored(): BlobLocation[] {
    const stored = this.stored;
    this.stored = [];
    return stored;
  }

  private throwIfFailed(): void {
    if (this.failure !== null) throw this.failure.error;
  }
}
