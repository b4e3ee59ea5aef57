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
    const flushed = await writer.append(sha256(Buffer.from('678901')), Buffer.from('678901'));

    expect(flushed).toHaveLength(2);
    expect(uploads).toEqual([11]);
    expect(await writer.flush()).toEqual([]);
    expect(uploads).toEqual([11]);
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
