import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  openManifestFile,
  readManifestFile,
  writeManifestFile,
} from '../../agent/transfer/manifest-file.ts';
import type { ManifestEntry, ManifestHeader } from '../../src/protocol/manifest.ts';
import { makeTempDir } from '../helpers/temp.ts';

const header: ManifestHeader = {
  format: 'syncctl-manifest-1',
  snapshotId: 7,
  companyId: 1,
  configId: 2,
  resourceId: 3,
  parentSnapshotId: null,
  createdAt: '2024-05-01T12:00:00.000Z',
  includePaths: ['/data'],
  excludePaths: ['*.tmp'],
};

const hash = createHash('sha256').update('hello').digest('hex');
const entries: ManifestEntry[] = [
  { path: '/data', type: 'dir', size: 0, mode: 0o755, mtimeMs: 1714564800000 },
  {
    path: '/data/a b.txt',
    type: 'file',
    size: 5,
    mode: 0o644,
    mtimeMs: 1714564800123.456,
    hash,
    blob: { hash, key: `packs/ab/${'a'.repeat(64)}`, offset: 10, length: 5 },
  },
  {
    path: '/data/empty',
    type: 'file',
    size: 0,
    mode: 0o600,
    mtimeMs: 1714564800000,
    hash: createHash('sha256').digest('hex'),
  },
  {
    path: '/data/link',
    type: 'symlink',
    size: 4,
    mode: 0o777,
    mtimeMs: 1714564800000,
    target: '../x',
  },
  {
    path: '/data/日本語 #1+%.txt',
    type: 'file',
    size: 5,
    mode: 0o644,
    mtimeMs: 1,
    hash,
    blob: { hash, key: `objects/ab/${hash}`, offset: 0, length: 5 },
  },
];

describe('manifest file', () => {
  it('round-trips header and entries', async () => {
    const folder = await makeTempDir('manifest');
    const filePath = path.join(folder, 'm.ndjson.gz');

    await writeManifestFile(filePath, header, entries);
    const read = await readManifestFile(filePath);

    expect(read.header).toEqual(header);
    expect(read.entries).toEqual(entries);
  });

  it('writes gzip NDJSON with the header first', async () => {
    const folder = await makeTempDir('manifest-format');
    const filePath = path.join(folder, 'm.ndjson.gz');

    await writeManifestFile(filePath, header, entries);
    const lines = gunzipSync(await readFile(filePath))
      .toString('utf8')
      .trimEnd()
      .split('\n');

    expect(lines).toHaveLength(entries.length + 1);
    expect(JSON.parse(lines[0])).toEqual(header);
    expect(JSON.parse(lines[2])).toEqual(entries[1]);
  });

  it('streams entries from an async iterable', async () => {
    const folder = await makeTempDir('manifest-stream');
    const filePath = path.join(folder, 'm.ndjson.gz');
    async function* many(): AsyncGenerator<ManifestEntry> {
      for (let index = 0; index < 20_000; index += 1) {
        yield {
          path: `/data/${String(index).padStart(6, '0')}`,
          type: 'dir',
          size: 0,
          mode: 0o755,
          mtimeMs: index,
        };
      }
    }

    await writeManifestFile(filePath, header, many());
    const reader = await openManifestFile(filePath);
    let count = 0;
    for await (const entry of reader.entries) {
      expect(entry.mtimeMs).toBe(count);
      count += 1;
    }

    expect(count).toBe(20_000);
  });

  it('rejects unsorted entries and leaves no file', async () => {
    const folder = await makeTempDir('manifest-unsorted');
    const filePath = path.join(folder, 'm.ndjson.gz');

    await expect(writeManifestFile(filePath, header, [entries[1], entries[0]])).rejects.toThrow(
      /not sorted/,
    );
    await expect(readFile(filePath)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('rejects a file that is not a manifest', async () => {
    const folder = await makeTempDir('manifest-bad');
    const filePath = path.join(folder, 'm.ndjson.gz');
    await writeFile(filePath, 'not gzip at all');

    await expect(openManifestFile(filePath)).rejects.toThrow();
  });
});
