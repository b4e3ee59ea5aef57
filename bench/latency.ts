import fs from 'node:fs/promises';
import path from 'node:path';
import { SeededBytes } from './data.ts';
import { sleep } from './processes.ts';

/** Pause in ms between two files, so each file is measured on its own. */
const pauseBetweenFilesMs = 100;

/**
 * Polls until `file` holds `content` and returns when it was first seen complete. It stats first
 * and reads only at the right size, so polling every 2 ms costs little CPU.
 */
export async function waitForContent(file: string, content: Buffer, timeoutMs: number): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    const stats = await fs.stat(file).catch(() => null);
    if (stats !== null && stats.size === content.length) {
      const seen = await fs.readFile(file).catch(() => null);
      if (seen !== null && seen.equals(content)) return performance.now();
    }
    await sleep(2);
  }
  throw new Error(`${file} did not arrive within ${timeoutMs} ms`);
}

/**
 * Writes `count` small files (1 to 16 KiB, seeded) into `sourceDir` one at a time and returns, for
 * each, the ms from the start of its write until `destinationDir` holds the same bytes.
 */
export async function measureLatencies(
  sourceDir: string,
  destinationDir: string,
  count: number,
  label: string,
  timeoutMs: number,
): Promise<number[]> {
  const random = new SeededBytes('sync-latency', label);
  const latencies: number[] = [];
  for (let index = 0; index < count; index += 1) {
    const content = random.next(1024 + (index % 16) * 1024);
    const name = `${label}-${index}.bin`;
    const started = performance.now();
    await fs.writeFile(path.join(sourceDir, name), content);
    const arrived = await waitForContent(path.join(destinationDir, name), content, timeoutMs);
    latencies.push(arrived - started);
    await sleep(pauseBetweenFilesMs);
  }
  return latencies;
}
