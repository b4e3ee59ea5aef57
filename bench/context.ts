import fs from 'node:fs';
import path from 'node:path';
import { settle, type PeakMemory } from './measure.ts';
import type { BenchClusterOptions } from './processes.ts';
import { runCommand, type Peer, type PeerName } from './tools.ts';

/** Settings and shared state that every scenario receives from the entry point. */
export interface BenchContext {
  /** Scratch folder of this run; every tool writes its fresh targets below it. */
  work: string;
  /** Timed repetitions per scenario; figures are their medians. */
  repetitions: number;
  /** Whether to run one untimed round before the timed ones. */
  warmUp: boolean;
  quick: boolean;
  peers: Record<PeerName, Peer | null>;
  peak: PeakMemory;
  /** Options for every syncctl cluster, such as a folder for CPU profiles. */
  clusterOptions: BenchClusterOptions;
  /** Time spans of the timed syncctl steps, to cut CPU profiles down to them. */
  windows: TimedWindow[];
  log(line: string): void;
}

/**
 * A timed step in µs of CLOCK_MONOTONIC, the clock of `process.hrtime` in every process here
 * and of the `startTime` that `node --cpu-prof` writes, so profiles of other processes line up.
 */
export interface TimedWindow {
  label: string;
  startUs: number;
  endUs: number;
}

function monotonicUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

/**
 * Settles the machine (see `settle`), runs `body`, records its time span under `label`, and
 * returns its wall time in ms and its result.
 */
export async function timedStep<T>(context: BenchContext, label: string, body: () => Promise<T>): Promise<{ ms: number; result: T }> {
  await settle();
  const startUs = monotonicUs();
  const result = await body();
  const endUs = monotonicUs();
  context.windows.push({ label, startUs, endUs });
  return { ms: (endUs - startUs) / 1000, result };
}

/** Returns a new folder below the run's scratch folder. */
export function freshFolder(context: BenchContext, name: string): string {
  const folder = path.join(context.work, name);
  fs.mkdirSync(folder, { recursive: true });
  return folder;
}

/** Counts the files below `folder` and sums their sizes. */
export function countFiles(folder: string): { files: number; bytes: number } {
  let files = 0;
  let bytes = 0;
  const pending = [folder];
  while (pending.length > 0) {
    const current = pending.pop()!;
    for (const entry of fs.readdirSync(current, { withFileTypes: true })) {
      const child = path.join(current, entry.name);
      if (entry.isDirectory()) pending.push(child);
      else if (entry.isFile()) {
        files += 1;
        bytes += fs.statSync(child).size;
      }
    }
  }
  return { files, bytes };
}

/** Throws unless `folder` contains exactly the expected number of files and bytes. */
export function checkCopy(operation: string, folder: string, expected: { files: number; bytes: number }): void {
  const found = fs.existsSync(folder) ? countFiles(folder) : { files: 0, bytes: 0 };
  if (found.files !== expected.files || found.bytes !== expected.bytes) {
    throw new Error(`${operation} is incomplete: ${folder} contains ${found.files} files of ${found.bytes} bytes, expected ${expected.files} files of ${expected.bytes} bytes`);
  }
}

/** restic with a password and cache folder inside the run's scratch folder. */
export function restic(context: BenchContext, args: string[]) {
  const peer = context.peers.restic!;
  return runCommand(peer.path, args, { RESTIC_PASSWORD: 'benchmark-password', RESTIC_CACHE_DIR: path.join(context.work, 'restic-cache') });
}

/** rclone with an empty config file inside the run's scratch folder, so it reads nothing from HOME. */
export function rclone(context: BenchContext, args: string[]) {
  const peer = context.peers.rclone!;
  const config = path.join(context.work, 'rclone.conf');
  if (!fs.existsSync(config)) fs.writeFileSync(config, '');
  return runCommand(peer.path, args, { RCLONE_CONFIG: config });
}

/** Returns `items` in the order for repetition `index`, so that each one goes first in turn. */
export function rotate<T>(items: readonly T[], index: number): T[] {
  const shift = index % items.length;
  return [...items.slice(shift), ...items.slice(0, shift)];
}
