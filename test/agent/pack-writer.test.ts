import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { PackWriter } from '../../agent/transfer/pack-writer.ts';
import { packKey, type BlobLocation } from '../../src/protocol/manifest.ts';

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

describe('PackWriter', () => {
  it('packs contents and returns locations that slice back to them', async () => {
    const stored = new Map<string, Buffer>();
    const writer = new PackWriter(
      async (key, bytes) => void stored.set(key, Buffer.from(bytes)),
      100,
    );
    const contents = Array.from({ length: 12 }, (_, index) =>
      Buffer.from(`content number ${index} `.repeat(index + 1)),
    );

    const locations: BlobLocation[] = [];
    for (const content of contents) {
      locations.push(...(await writer.append(sha256(content), content)));
    }
    locations.push(...(await writer.flush()));

    expect(locations).toHaveLength(contents.length);
    for (const [key, pack] of stored) expect(key).toBe(packKey(sha256(pack)));
    for (const [index, content] of contents.entries()) {
      const location = locations.find((candidate) => candidate.hash === sha256(content))!;
      const pack = stored.get(location.key)!;
      expect(location.length).toBe(content.length);
      expect(
        pack.subarray(location.offset, location.offset + location.length).equals(content),
        `content ${index}`,
      ).toBe(true);
      expect(writer.locationOf(location.hash)).toEqual(location);
    }
  });

  it('flushes once the target size is reached', async () => {
    const uploads: number[] = [];
    const writer = new PackWriter(async (_key, bytes) => void uploads.push(bytes.length), 10);

    expect(await writer.append(sha256(Buffer.from('12345')), Buffer.from('12345'))).toEqual([]);
    const locations = await writer.append(sha256(Buffer.from('678901')), Buffer.from('678901'));

    expect(uploads).toEqual([11]);
    locations.push(...(await writer.flush()));
    expect(locations).toHaveLength(2);
    expect(uploads).toEqual([11]);
  });

  it('keeps pack bytes intact while uploads overlap', async () => {
    const stored = new Map<string, Buffer>();
    let running = 0;
    let maxRunning = 0;
    const writer = new PackWriter(
      async (key, bytes) => {
        running += 1;
        maxRunning = Math.max(maxRunning, running);
        await new Promise((resolve) => setTimeout(resolve, 5));
        // Copied only now: a writer that reused the buffer too early would corrupt this copy.
        stored.set(key, Buffer.from(bytes));
        running -= 1;
      },
      64,
      2,
    );
    const contents = Array.from({ length: 40 }, (_, index) => Buffer.alloc(20 + index, index));

    const locations: BlobLocation[] = [];
    for (const content of contents) locations.push(...(await writer.append(sha256(content), content)));
    locations.push(...(await writer.flush()));

    expect(maxRunning).toBe(2);
    expect(locations).toHaveLength(contents.length);
    for (const [key, pack] of stored) expect(key).toBe(packKey(sha256(pack)));
    for (const location of locations) {
      const pack = stored.get(location.key)!;
      const slice = pack.subarray(location.offset, location.offset + location.length);
      expect(sha256(slice)).toBe(location.hash);
    }
  });

  it('raises a failed upload at the next call', async () => {
    const writer = new PackWriter(async () => {
      throw new Error('store unavailable');
    }, 10);

    await writer.append(sha256(Buffer.from('0123456789ab')), Buffer.from('0123456789ab'));

    await expect(writer.flush()).rejects.toThrow('store unavailable');
    await expect(writer.append(sha256(Buffer.from('x')), Buffer.from('x'))).rejects.toThrow(
      'store unavailable',
    );
  });

  it('stores a repeated content once', async () => {
    const uploads: Buffer[] = [];
    const writer = new PackWriter(async (_key, bytes) => void uploads.push(bytes));
    const content = Buffer.from('same');

    await writer.append(sha256(content), content);
    await writer.append(sha256(content), content);
    const locations = await writer.flush();

    expect(locations).toHaveLength(1);
    expect(uploads[0].toString()).toBe('same');
    expect(writer.has(sha256(content))).toBe(true);
  });
});
