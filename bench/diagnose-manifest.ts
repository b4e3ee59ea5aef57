import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip, gzipSync } from 'node:zlib';
import { writeManifestFile } from '../agent/transfer/manifest-file.ts';
import type { ManifestEntry, ManifestHeader } from '../src/protocol/manifest.ts';

/**
 * Times the agent's `writeManifestFile` on a manifest shaped like one of tree A: 20,000 files in
 * 400 folders, each with a hash and a pack location. For comparison it compresses the same lines
 * joined into 64 KiB writes to a gzip stream, and in one `gzipSync` call. Each runs twice, and
 * the output gives wall time and the CPU time of this process, which includes zlib's thread pool.
 *
 * Usage: node --import tsx bench/diagnose-manifest.ts [ENTRIES]
 */

const chunkBytes = 64 * 1024;

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function syntheticEntries(count: number): ManifestEntry[] {
  const entries: ManifestEntry[] = [];
  for (let index = 0; index < count; index += 1) {
    const folder = `d${String(Math.floor((index % 400) / 20)).padStart(3, '0')}/s${String(index % 20).padStart(3, '0')}`;
    const hash = sha256(`content-${index}`);
    entries.push({
      path: `/srv/bench/tree-a/${folder}/f${String(index).padStart(6, '0')}.bin`,
      type: 'file',
      size: 1024 + (index % 15_360),
      mode: 0o644,
      mtimeMs: 1_796_400_000_000.123 + index,
      hash,
      blob: { hash, key: `packs/ab/${sha256(`pack-${index >> 10}`)}`, offset: (index % 1000) * 8704, length: 1024 + (index % 15_360) },
    });
  }
  // Manifests are sorted by path in JavaScript string order, which writeManifestFile checks.
  return entries.sort((a, b) => {
    if (a.path === b.path) return 0;
    return a.path < b.path ? -1 : 1;
  });
}

async function measure(label: string, body: () => Promise<void>): Promise<void> {
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  await body();
  const wallMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  process.stdout.write(`${label}: ${Math.round(wallMs)} ms wall, ${Math.round((cpu.user + cpu.system) / 1000)} ms CPU\n`);
}

function* joinedLines(lines: readonly string[]): Generator<string> {
  let chunk = '';
  for (const line of lines) {
    chunk += line;
    if (chunk.length >= chunkBytes) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk !== '') yield chunk;
}

async function main(): Promise<void> {
  const count = Number(process.argv[2] ?? 20_000);
  const header: ManifestHeader = {
    format: 'syncctl-manifest-1',
    snapshotId: 2,
    companyId: 1,
    configId: 1,
    resourceId: 1,
    parentSnapshotId: 1,
    createdAt: new Date().toISOString(),
    includePaths: ['/srv/bench/tree-a'],
    excludePaths: [],
  };
  const entries = syntheticEntries(count);
  const lines = [`${JSON.stringify(header)}\n`, ...entries.map((entry) => `${JSON.stringify(entry)}\n`)];
  const text = lines.join('');
  process.stdout.write(`${count} entries, ${(text.length / 1e6).toFixed(1)} MB of JSON lines\n`);

  const folder = await fs.mkdtemp(path.join(os.tmpdir(), 'syncctl-diagnose-manifest-'));
  try {
    for (let round = 1; round <= 2; round += 1) {
      await measure(`writeManifestFile, round ${round}`, () => writeManifestFile(path.join(folder, `a-${round}.gz`), header, entries));
      await measure(`gzip stream with 64 KiB writes, round ${round}`, () => pipeline(Readable.from(joinedLines(lines)), createGzip(), createWriteStream(path.join(folder, `b-${round}.gz`))));
      await measure(`one gzipSync call, round ${round}`, () => fs.writeFile(path.join(folder, `c-${round}.gz`), gzipSync(text)));
    }
  } finally {
    await fs.rm(folder, { recursive: true, force: true });
  }
}

await main();
