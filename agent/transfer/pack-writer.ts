import { packKey, type BlobLocation } from '../../src/protocol/manifest.ts';
import { sha256Hex } from './hash-file.ts';

/** Size at which a pack is flushed. A pack ends up below this plus the largest small content. */
export const packTargetBytes = 8 * 1024 * 1024;

/** Stores a finished pack under its content-addressed key. */
export type PackUploader = (key: string, bytes: Buffer) => Promise<void>;

/**
 * Collects small contents into packs of about `targetBytes` and uploads each full pack under
 * `packKey(sha256 of the pack)`. Each content is stored once per writer, and its location
 * (pack key, offset, length) is known once its pack is flushed.
 */
export class PackWriter {
  private readonly upload: PackUploader;
  private readonly targetBytes: number;
  private chunks: Array<{ hash: string; bytes: Buffer }> = [];
  private bufferedBytes = 0;
  private readonly buffered = new Set<string>();
  private readonly flushed = new Map<string, BlobLocation>();

  constructor(upload: PackUploader, targetBytes = packTargetBytes) {
    this.upload = upload;
    this.targetBytes = targetBytes;
  }

  /** True when the content was appended before, whether or not its pack is flushed yet. */
  has(hash: string): boolean {
    return this.buffered.has(hash) || this.flushed.has(hash);
  }

  /** Returns the location of a content whose pack was flushed, or undefined. */
  locationOf(hash: string): BlobLocation | undefined {
    return this.flushed.get(hash);
  }

  /**
   * Appends a content unless it was appended before, and flushes the pack once it reaches the
   * target size. Returns the locations of the contents of a pack flushed by this call.
   */
  async append(hash: string, bytes: Buffer): Promise<BlobLocation[]> {
    if (this.has(hash)) return [];

    this.chunks.push({ hash, bytes });
    this.buffered.add(hash);
    this.bufferedBytes += bytes.length;
    if (this.bufferedBytes < this.targetBytes) return [];
    return this.flush();
  }

  /**
   * Uploads the buffered contents as one pack. Returns their locations, or [] when none are
   * buffered.
   */
  async flush(): Promise<BlobLocation[]> {
    if (this.chunks.length === 0) return [];

    const pack = Buffer.concat(this.chunks.map((chunk) => chunk.bytes));
    const key = packKey(sha256Hex(pack));
    await this.upload(key, pack);

    const locations: BlobLocation[] = [];
    let offset = 0;
    for (const { hash, bytes } of this.chunks) {
      const location = { hash, key, offset, length: bytes.length };
      locations.push(location);
      this.flushed.set(hash, location);
      this.buffered.delete(hash);
      offset += bytes.length;
    }
    this.chunks = [];
    this.bufferedBytes = 0;
    return locations;
  }
}
