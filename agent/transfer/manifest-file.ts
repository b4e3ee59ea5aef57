import { createReadStream, createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import {
  manifestEntrySchema,
  manifestHeaderSchema,
  type ManifestEntry,
  type ManifestHeader,
} from '../../src/protocol/manifest.ts';

/** An open manifest file: the header is read, the entries stream on demand. */
export interface ManifestReader {
  header: ManifestHeader;
  /** Entries in file order (sorted by path). The iterable is single-use, like any generator. */
  entries: AsyncIterable<ManifestEntry>;
  /**
   * The same entries in arrays of one decompressed chunk each, which saves an await per entry.
   * Read either `entries` or `batches`, not both.
   */
  batches: AsyncIterable<ManifestEntry[]>;
  /** Releases the file when the entries are not read to the end. */
  close(): void;
}

/**
 * Writes a manifest as gzip NDJSON: the header line, then one entry per line. `entries` must be
 * sorted by path (JavaScript string order). The file appears at `filePath` only when complete,
 * because it is written to a temporary name beside it and renamed.
 */
export async function writeManifestFile(
  filePath: string,
  header: ManifestHeader,
  entries: Iterable<ManifestEntry> | AsyncIterable<ManifestEntry>,
): Promise<void> {
  const temporaryPath = `${filePath}.${process.pid}.${Date.now()}.tmp`;
  try {
    await pipeline(
      Readable.from(manifestLines(header, entries)),
      createGzip({ level: manifestGzipLevel }),
      createWriteStream(temporaryPath),
    );
    await fs.rename(temporaryPath, filePath);
  } catch (error) {
    await fs.rm(temporaryPath, { force: true });
    throw error;
  }
}

/**
 * zlib level of manifests. On 20,000 entries level 1 took 46 ms and gave 1.17 MB, the default
 * level 6 took 71 ms and gave 1.16 MB, because the SHA-256 hex that fills most lines compresses
 * the same at any level.
 */
const manifestGzipLevel = 1;

/**
 * Characters of NDJSON collected before each write to the gzip stream. One write per line cost
 * zlib a call per line, which made writing a 20,000-entry manifest more than ten times slower.
 */
const chunkChars = 64 * 1024;

/**
 * NDJSON lines of entries written before. An entry object is never changed once created, and an
 * unchanged file keeps its entry object from one snapshot to the next, so the line is reused.
 */
const writtenLines = new WeakMap<ManifestEntry, string>();

function lineOf(entry: ManifestEntry): string {
  let line = writtenLines.get(entry);
  if (line === undefined) {
    line = `${JSON.stringify(entry)}\n`;
    writtenLines.set(entry, line);
  }
  return line;
}

async function* manifestLines(
  header: ManifestHeader,
  entries: Iterable<ManifestEntry> | AsyncIterable<ManifestEntry>,
): AsyncGenerator<string> {
  let chunk = `${JSON.stringify(header)}\n`;
  let previous: string | null = null;
  for await (const entry of entries) {
    if (previous !== null && !(previous < entry.path)) {
      throw new Error(
        `Internal error: manifest entries are not sorted by path: "${entry.path}" follows "${previous}".`,
      );
    }
    previous = entry.path;
    chunk += lineOf(entry);
    if (chunk.length >= chunkChars) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk.length > 0) yield chunk;
}

/** Opens a manifest file and reads its header. Throws when the file is not a syncctl manifest. */
export async function openManifestFile(filePath: string): Promise<ManifestReader> {
  const input = createReadStream(filePath, { highWaterMark: 1 << 20 }).pipe(createGunzip());
  const iterator = splitLines(input)[Symbol.asyncIterator]();
  const close = (): void => {
    input.destroy();
  };

  let header: ManifestHeader;
  let pending: string[];
  try {
    const first = await iterator.next();
    pending = first.done ? [] : first.value;
    if (pending.length === 0) throw new Error(`Manifest ${filePath} is empty; expected a header line.`);
    header = parseLine(filePath, 1, pending.shift()!, manifestHeaderSchema);
  } catch (error) {
    close();
    throw error;
  }

  async function* batches(): AsyncGenerator<ManifestEntry[]> {
    let lineNumber = 1;
    try {
      for (let lines: string[] | null = pending; lines !== null; ) {
        const parsed: ManifestEntry[] = [];
        for (const line of lines) {
          lineNumber += 1;
          if (line !== '') parsed.push(parseLine(filePath, lineNumber, line, manifestEntrySchema));
        }
        if (parsed.length > 0) yield parsed;
        const next = await iterator.next();
        lines = next.done ? null : next.value;
      }
    } finally {
      close();
    }
  }

  async function* entries(): AsyncGenerator<ManifestEntry> {
    for await (const batch of batches()) yield* batch;
  }

  return { header, entries: entries(), batches: batches(), close };
}

/**
 * Yields the lines of a UTF-8 stream without their `\n`, in one array per chunk. Splitting whole
 * chunks is several times faster than node:readline for the many short lines of a manifest.
 */
async function* splitLines(input: AsyncIterable<Buffer>): AsyncGenerator<string[]> {
  const decoder = new StringDecoder('utf8');
  let rest = '';
  for await (const chunk of input) {
    const lines = (rest + decoder.write(chunk)).split('\n');
    rest = lines.pop()!;
    if (lines.length > 0) yield lines;
  }
  rest += decoder.end();
  if (rest !== '') yield [rest];
}

/** Reads a whole manifest into memory. */
export async function readManifestFile(
  filePath: string,
): Promise<{ header: ManifestHeader; entries: ManifestEntry[] }> {
  const reader = await openManifestFile(filePath);
  const entries: ManifestEntry[] = [];
  for await (const batch of reader.batches) {
    for (const entry of batch) entries.push(entry);
  }
  return { header: reader.header, entries };
}

function parseLine<T>(
  filePath: string,
  lineNumber: number,
  line: string,
  schema: {
    safeParse(value: unknown): { success: true; data: T } | { success: false; error: Error };
  },
): T {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new Error(`Manifest ${filePath} line ${lineNumber} is not valid JSON.`);
  }
  const result = schema.safeParse(value);
  if (!result.success) {
    throw new Error(`Manifest ${filePath} line ${lineNumber} is invalid: ${result.error.message}`);
  }
  return result.data;
}
