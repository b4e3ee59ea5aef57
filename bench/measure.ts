import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

/** Clock ticks per second of the CPU times in /proc/PID/stat. */
const clockTicksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** Pause before each timed step, after dirty pages are written, in ms. */
const settleMs = 2000;

/**
 * Writes dirty pages to disk with sync(1) and waits `settleMs`. A tool that started within
 * seconds of `rclone copy` writing 20,000 files took about twice as long, whichever tool it was,
 * and sync(1) alone did not remove that, so every timed step starts on a settled machine.
 */
export async function settle(): Promise<void> {
  execFileSync('sync');
  await new Promise((resolve) => setTimeout(resolve, settleMs));
}

/** Settles the machine, then runs `body` and returns its wall time in ms together with its result. */
export async function timed<T>(body: () => Promise<T>): Promise<{ ms: number; result: T }> {
  await settle();
  const started = performance.now();
  const result = await body();
  return { ms: performance.now() - started, result };
}

/** Memory of a process from /proc/PID/status: resident now, and the peak (high-water mark). */
export interface ProcessMemory {
  rssBytes: number;
  peakRssBytes: number;
}

export function processMemory(pid: number): ProcessMemory {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string): number => {
    const match = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status);
    return match ? Number(match[1]) * 1024 : Number.NaN;
  };
  return { rssBytes: field('VmRSS'), peakRssBytes: field('VmHWM') };
}

/**
 * CPU time in ms that a process (all its threads) spent in user and in kernel mode since it
 * started, and its minor page faults: pages it touched for the first time, each served by the kernel.
 */
export function processCpuTimes(pid: number): { userMs: number; systemMs: number; minorFaults: number } {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name in brackets may contain spaces, so fields are counted after its closing bracket.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return {
    userMs: (Number(fields[11]) * 1000) / clockTicksPerSecond,
    systemMs: (Number(fields[12]) * 1000) / clockTicksPerSecond,
    minorFaults: Number(fields[7]),
  };
}

/** CPU time in ms that a process spent in user and kernel mode together since it started. */
export function processCpuMs(pid: number): number {
  const { userMs, systemMs } = processCpuTimes(pid);
  return userMs + systemMs;
}

/** Peak resident memory per process role, kept as the largest value seen for each. */
export class PeakMemory {
  readonly peaks = new Map<string, { bytes: number; scenario: string }>();

  /** Records the high-water mark of `pid` under `role`; a process that already exited is skipped. */
  record(role: string, scenario: string, pid: number | undefined): void {
    if (pid === undefined) return;
    let memory: ProcessMemory;
    try {
      memory = processMemory(pid);
    } catch {
      return;
    }
    const key = `${role}\t${scenario}`;
    const before = this.peaks.get(key);
    if (before === undefined || memory.peakRssBytes > before.bytes) this.peaks.set(key, { bytes: memory.peakRssBytes, scenario });
  }
}

export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return '-';
  if (ms >= 10_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  return `${Math.round(ms)} ms`;
}

/** Formats bytes in MB (10^6 bytes), the unit of the memory targets. */
export function formatMB(bytes: number): string {
  if (!Number.isFinite(bytes)) return '-';
  return `${(bytes / 1e6).toFixed(0)} MB`;
}

/** Throughput in MB/s (10^6 bytes per second), the unit restic and rclone print. */
export function megabytesPerSecond(bytes: number, ms: number): number {
  return bytes / 1e6 / (ms / 1000);
}
