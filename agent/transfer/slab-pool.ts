/**
 * Memory for small file contents between reading and packing, cut from slabs that are reused
 * once every content in them is released. Allocating a buffer per file made the kernel supply
 * fresh pages for most reads, which cost more than reading the files from the page cache.
 */
export class SlabPool {
  private readonly slabBytes: number;
  private readonly maxSpareSlabs: number;
  private readonly slabs = new Map<ArrayBufferLike, Slab>();
  private readonly spare: Slab[] = [];
  private current: Slab | null = null;

  constructor(slabBytes = 4 * 1024 * 1024, maxSpareSlabs = 8) {
    this.slabBytes = slabBytes;
    this.maxSpareSlabs = maxSpareSlabs;
  }

  /** Returns `size` bytes of uninitialized memory. Pass the buffer to `release` when done with it. */
  allocate(size: number): Buffer {
    if (size > this.slabBytes) return Buffer.allocUnsafe(size);
    if (this.current === null || this.current.used + size > this.current.buffer.length) this.replaceCurrent();
    const slab = this.current!;
    const bytes = slab.buffer.subarray(slab.used, slab.used + size);
    slab.used += size;
    slab.live += 1;
    return bytes;
  }

  /**
   * Releases a buffer from `allocate`, or a subarray of one. A slab whose buffers are all released
   * is reused. The pool cannot detect a second release of one buffer, which would let later
   * contents overwrite live ones, so callers release each buffer once.
   */
  release(bytes: Uint8Array): void {
    const slab = this.slabs.get(bytes.buffer);
    if (slab === undefined) return;
    slab.live -= 1;
    if (slab.live === 0 && slab !== this.current) this.recycle(slab);
  }

  private replaceCurrent(): void {
    const previous = this.current;
    this.current = this.spare.pop() ?? this.createSlab();
    if (previous !== null && previous.live === 0) this.recycle(previous);
  }

  private createSlab(): Slab {
    const slab = { buffer: Buffer.allocUnsafeSlow(this.slabBytes), used: 0, live: 0 };
    this.slabs.set(slab.buffer.buffer, slab);
    return slab;
  }

  private recycle(slab: Slab): void {
    slab.used = 0;
    if (this.spare.length < this.maxSpareSlabs) this.spare.push(slab);
    else this.slabs.delete(slab.buffer.buffer);
  }
}

interface Slab {
  buffer: Buffer;
  used: number;
  /** Buffers handed out from this slab and not released yet. */
  live: number;
}
