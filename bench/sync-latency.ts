import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { measureLatencies } from './latency.ts';
import { BenchCluster, percentile, sleep, type BenchAgent, type BenchClusterOptions } from './processes.ts';

/** Time in ms for the source agent to start watching after the sync config is created. */
const watchStartMs = 1500;

/**
 * A coordinator, a source agent and a destination agent with one sync config from a source folder
 * onto a destination folder, over loopback.
 */
export class SyncctlLatencyRig {
  readonly cluster: BenchCluster;
  readonly sourceDir: string;
  readonly destinationDir: string;
  source: BenchAgent | null = null;
  destination: BenchAgent | null = null;

  constructor(root: string, options: BenchClusterOptions = {}) {
    this.cluster = new BenchCluster(root, options);
    this.sourceDir = path.join(root, 'source-tree');
    this.destinationDir = path.join(root, 'destination-tree');
  }

  async start(): Promise<void> {
    await this.cluster.start();
    this.source = await this.cluster.startAgent('source');
    this.destination = await this.cluster.startAgent('destination');
    await fs.mkdir(this.sourceDir, { recursive: true });
    await fs.mkdir(this.destinationDir, { recursive: true });
    const body = {
      name: 'latency',
      resourceId: this.source.resourceId,
      pathDetails: { includePaths: [this.sourceDir], excludePaths: [] },
      destinationResources: [{ resourceId: this.destination.resourceId, targetDir: this.destinationDir }],
    };
    await this.cluster.api('POST', `/companies/${this.cluster.companyId}/sync-configs`, body);
    await sleep(watchStartMs);
  }

  /** Returns the latency in ms of each of `count` files written one at a time. */
  measure(count: number, label: string): Promise<number[]> {
    return measureLatencies(this.sourceDir, this.destinationDir, count, label, 10_000);
  }

  stop(): Promise<void> {
    return this.cluster.stop();
  }
}

/**
 * Measures sync latency on its own: the time from writing a small file on the source until the
 * same bytes are on the destination, one file at a time, over loopback. `BENCH_FILES` sets the
 * number of files (default 50); `--json` adds a JSON line.
 */
async function main(): Promise<void> {
  const fileCount = Number(process.env.BENCH_FILES ?? 50);
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'syncctl-bench-latency-'));
  const rig = new SyncctlLatencyRig(root);
  try {
    await rig.start();
    const latencies = await rig.measure(fileCount, 'file');
    const result = { files: fileCount, p50Ms: Math.round(percentile(latencies, 0.5)), p95Ms: Math.round(percentile(latencies, 0.95)), maxMs: Math.round(Math.max(...latencies)) };
    process.stdout.write(`sync latency over ${result.files} files: p50 ${result.p50Ms} ms, p95 ${result.p95Ms} ms, max ${result.maxMs} ms\n`);
    if (process.argv.includes('--json')) process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    await rig.stop();
    await fs.rm(root, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) await main();
