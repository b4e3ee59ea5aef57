import { createReadStream, createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import readline from 'node:readline';
import { Readable } from 'node:stream';
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
      createGzip(),
      createWriteStream(temporaryPath),
    );
    await fs.rename(temporaryPath, filePath);
  } catch (error) {
    await fs.rm(temporaryPath, { force: true });
    throw error;
  }
}

async function* manifestLines(
  header: ManifestHeader,
  entries: Iterable<ManifestEntry> | AsyncIterable<ManifestEntry>,
): AsyncGenerator<string> {
  yield `${JSON.stringify(header)}\n`;
  let previous: string | null = null;
  for await (const entry of entries) {
    if (previous !== null && !(previous < entry.path)) {
      throw new Error(
        `Internal error: manifest entries are not sorted by path: "${entry.path}" follows "${previous}".`,
      );
    }
    previous = entry.path;
    yield `${JSON.stringify(entry)}\n`;
  }
}

/** Opens a manifest file and reads its header. Throws when the file is not a syncctl manifest. */
export async function openManifestFile(filePath: string): Promise<ManifestReader> {
  const input = createReadStream(filePath).pipe(createGunzip());
  const lines = readline.createInterface({ input, crlfDelay: Infinity });
  const iterator = lines[Symbol.asyncIterator]();
  const close = (): void => {
    lines.close();
    input.destroy();
  };

  let header: ManifestHeader;
  try {
    const first = await iterator.next();
    if (first.done) throw new Error(`Manifest ${filePath} is empty; expected a header line.`);
    header = parseLine(filePath, 1, first.value, manifestHeaderSchema);
  } catch (error) {
    close();
    throw error;
  }

  async function* entries(): AsyncGenerator<ManifestEntry> {
    let lineNumber = 1;
    try {
      for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
        lineNumber += 1;
        if (next.value === '') continue;
        yield parseLine(filePath, lineNumber, next.value, manifestEntrySchema);
      }
    } finally {
      close();
    }
  }

  return { header, entries: entries(), close };
}

/** Reads a whole manifest into memory. */
export async function readManifestFile(
  filePath: string,
): Promise<{ header: ManifestHeader; entries: ManifestEntry[] }> {
  const reader = await openManifestFile(filePath);
  const entries: ManifestEntry[] = [];
  for await (const entry of reader.entries) entries.push(entry);
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
