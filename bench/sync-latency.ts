import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { BenchCluster, percentile } from './processes.ts';

const fileCount = Number(process.env.BENCH_FILES ?? 50);

/** Polls until `file` exists with `content`, and returns when it was first seen complete. */
async function waitForContent(file: string, content: Buffer, timeoutMs: number): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    const seen = await fs.readFile(file).catch(() => null);
    if (seen && seen.equals(content)) return performance.now();
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  throw new Error(`${file} did not arrive within ${timeoutMs} ms`);
}

/**
 * Measures sync latency: the time from writing a small file on the source until the same bytes
 * are on the destination, one file at a time, over loopback.
 */
async function main(): Promise<void> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'syncctl-bench-latency-'));
  const cluster = new BenchCluster(root);
  try {
    await cluster.start();
    const source = await cluster.startAgent('source');
    const destination = await cluster.startAgent('destination');
    const sourceDir = path.join(root, 'source-tree');
    const destinationDir = path.join(root, 'destination-tree');
    await fs.mkdir(sourceDir);
    await fs.mkdir(destinationDir);
    await cluster.cliJson(['sync', 'add', '--resource', String(source.resourceId), '--name', 'latency', '--path', sourceDir, '--dest', `${destination.resourceId}=${destinationDir}`]);
    await new Promise((resolve) => setTimeout(resolve, 1500));

    const latencies: number[] = [];
    for (let index = 0; index < fileCount; index += 1) {
      const content = randomBytes(1024 + (index % 16) * 1024);
      const name = `file-${index}.bin`;
      const started = performance.now();
      await fs.writeFile(path.join(sourceDir, name), content);
      const arrived = await waitForContent(path.join(destinationDir, name), content, 10_000);
      latencies.push(arrived - started);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }

    const result = { files: fileCount, p50Ms: Math.round(percentile(latencies, 0.5)), p95Ms: Math.round(percentile(latencies, 0.95)), maxMs: Math.round(Math.max(...latencies)) };
    process.stdout.write(`sync latency over ${result.files} files: p50 ${result.p50Ms} ms, p95 ${result.p95Ms} ms, max ${result.maxMs} ms\n`);
    if (process.argv.includes('--json')) process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    await cluster.stop();
    await fs.rm(root, { recursive: true, force: true });
  }
}

await main();
