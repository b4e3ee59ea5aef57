import type { Sample, TreeResults } from './backup-restore.ts';
import type { TimedWindow } from './context.ts';
import type { IncrementalResults } from './incremental.ts';
import type { TreeLimits } from './limits.ts';
import { formatMB, formatMs, median, megabytesPerSecond } from './measure.ts';
import { percentile } from './processes.ts';
import type { AgentWatchResults } from './scale-agent.ts';
import type { FanOutResults } from './scale-coordinator.ts';

/** Latencies of one tool, one list of ms per repetition. */
export interface LatencyResults {
  syncctl: number[][];
  syncthing: number[][];
}

/** Everything one run measured, as written to the results JSON file. */
export interface BenchResults {
  startedAt: string;
  durationMs: number;
  command: string;
  quick: boolean;
  repetitions: number;
  isolatedNetwork: boolean;
  machine: Record<string, string>;
  versions: Record<string, string>;
  skipped: string[];
  /** Conditions that make the figures less trustworthy, such as product code that changed mid-run. */
  warnings: string[];
  trees: Record<string, { files: number; folders: number; bytes: number }>;
  limits: Record<string, TreeLimits>;
  backupRestore: Record<string, TreeResults>;
  incremental?: IncrementalResults;
  latency?: LatencyResults;
  watch?: AgentWatchResults;
  fanOut?: FanOutResults;
  peakMemory: Array<{ process: string; scenario: string; peakRssBytes: number }>;
  /** Spans of the timed syncctl steps, which `bench/profile-summary.ts --results` cuts profiles to. */
  windows?: TimedWindow[];
}

type Status = 'met' | 'missed' | '-';

interface Row {
  figure: string;
  syncctl: string;
  peer: string;
  ratio: string;
  target: string;
  status: Status;
}

const agentIdleCpuTargetPercent = 1;

function medianMs(samples: readonly Sample[] | undefined): number {
  return samples === undefined ? Number.NaN : median(samples.map((sample) => sample.ms));
}

function withRate(ms: number, bytes: number): string {
  if (!Number.isFinite(ms)) return '-';
  return `${formatMs(ms)} (${megabytesPerSecond(bytes, ms).toFixed(0)} MB/s)`;
}

function judge(value: number, passes: (value: number) => boolean): Status {
  if (!Number.isFinite(value)) return '-';
  return passes(value) ? 'met' : 'missed';
}

/** Returns the slower of reading a tree and hashing it, in ms. */
export function treeLimitMs(limits: TreeLimits | undefined): number {
  if (limits === undefined) return Number.NaN;
  return Math.max(median(limits.readMs), median(limits.hashMs));
}

function backupRows(results: BenchResults, label: string): Row[] {
  const tree = results.trees[label];
  const measured = results.backupRestore[label];
  if (tree === undefined || measured === undefined) return [];
  const rows: Row[] = [];
  const syncctlMs = medianMs(measured.backup.syncctl);
  const resticMs = medianMs(measured.backup.restic);
  const rcloneMs = medianMs(measured.backup.rclone);
  const limitMs = treeLimitMs(results.limits[label]);
  const name = `tree ${label}`;

  rows.push({
    figure: `initial backup ${name}`,
    syncctl: withRate(syncctlMs, tree.bytes),
    peer: `restic ${withRate(resticMs, tree.bytes)}`,
    ratio: Number.isFinite(resticMs) ? `${(resticMs / syncctlMs).toFixed(2)}× restic's throughput` : '-',
    target: '≥ 1.0× restic',
    status: judge(resticMs / syncctlMs, (ratio) => ratio >= 1),
  });
  rows.push({
    figure: `initial backup ${name}`,
    syncctl: withRate(syncctlMs, tree.bytes),
    peer: `rclone copy ${withRate(rcloneMs, tree.bytes)}`,
    ratio: Number.isFinite(rcloneMs) ? `${(rcloneMs / syncctlMs).toFixed(2)}× rclone's throughput` : '-',
    target: 'none',
    status: '-',
  });
  rows.push({
    figure: `initial backup ${name}`,
    syncctl: formatMs(syncctlMs),
    peer: `machine limit ${formatMs(limitMs)}`,
    ratio: Number.isFinite(limitMs) ? `${(syncctlMs / limitMs).toFixed(1)}× the limit's time` : '-',
    target: '≤ 2.0× the limit',
    status: judge(syncctlMs / limitMs, (ratio) => ratio <= 2),
  });

  const restoreMs = medianMs(measured.restore.syncctl);
  const resticRestoreMs = medianMs(measured.restore.restic);
  rows.push({
    figure: `full restore ${name}`,
    syncctl: withRate(restoreMs, tree.bytes),
    peer: `restic restore ${withRate(resticRestoreMs, tree.bytes)}`,
    ratio: Number.isFinite(resticRestoreMs) ? `${(resticRestoreMs / restoreMs).toFixed(2)}× restic's throughput` : '-',
    target: '≥ 1.0× restic',
    status: judge(resticRestoreMs / restoreMs, (ratio) => ratio >= 1),
  });
  return rows;
}

function incrementalRow(results: BenchResults): Row[] {
  const measured = results.incremental;
  if (measured === undefined) return [];
  const syncctlMs = medianMs(measured.syncctl);
  const resticMs = medianMs(measured.restic);
  return [
    {
      figure: 'incremental backup tree A (10 changed, 5 added, 5 deleted)',
      syncctl: formatMs(syncctlMs),
      peer: `restic ${formatMs(resticMs)}`,
      ratio: Number.isFinite(resticMs) ? `${(syncctlMs / resticMs).toFixed(2)}× restic's time` : '-',
      target: '≤ 0.2× restic',
      status: judge(syncctlMs / resticMs, (ratio) => ratio <= 0.2),
    },
  ];
}

/** Median over repetitions of each repetition's percentile. */
function latencyPercentile(runs: number[][], fraction: number): number {
  if (runs.length === 0) return Number.NaN;
  return median(runs.map((latencies) => percentile(latencies, fraction)));
}

function latencyRows(results: BenchResults): Row[] {
  const measured = results.latency;
  if (measured === undefined) return [];
  const files = measured.syncctl[0]?.length ?? 0;
  const rows: Row[] = [];
  for (const [fraction, name] of [[0.5, 'p50'], [0.95, 'p95']] as const) {
    const syncctlMs = latencyPercentile(measured.syncctl, fraction);
    const syncthingMs = latencyPercentile(measured.syncthing, fraction);
    const ratio = syncctlMs / syncthingMs;
    rows.push({
      figure: `sync latency ${name} (${files} small files)`,
      syncctl: formatMs(syncctlMs),
      peer: `Syncthing ${formatMs(syncthingMs)}`,
      ratio: Number.isFinite(syncthingMs) ? `${ratio.toFixed(2)}× Syncthing's time` : '-',
      target: name === 'p50' ? '≤ 0.2× Syncthing and < 300 ms' : 'none',
      status: name === 'p50' ? judge(syncctlMs, (ms) => ms < 300 && !(ratio > 0.2)) : '-',
    });
  }
  return rows;
}

function scaleRows(results: BenchResults): Row[] {
  const rows: Row[] = [];
  const watch = results.watch;
  if (watch !== undefined) {
    const rss = median(watch.rssBytes);
    const cpu = median(watch.idleCpuPercent);
    const what = `agent watching ${watch.files.toLocaleString('en-US')} files in ${watch.folders.toLocaleString('en-US')} folders`;
    rows.push({ figure: `${what}: RSS`, syncctl: `${formatMB(rss)} (peak ${formatMB(watch.peakRssBytes)})`, peer: '-', ratio: '-', target: '< 200 MB', status: judge(rss, (bytes) => bytes < 200e6) });
    rows.push({ figure: `${what}: idle CPU`, syncctl: `${cpu.toFixed(2)}% of a core`, peer: '-', ratio: '-', target: `near zero (≤ ${agentIdleCpuTargetPercent}% of a core)`, status: judge(cpu, (percent) => percent <= agentIdleCpuTargetPercent) });
  }
  const fanOut = results.fanOut;
  if (fanOut !== undefined) {
    const agents = fanOut.agents.toLocaleString('en-US');
    rows.push({
      figure: `coordinator with ${agents} agents connected: RSS`,
      syncctl: `${formatMB(fanOut.rssConnectedBytes)} idle, ${formatMB(fanOut.peakRssBytes)} peak`,
      peer: '-',
      ratio: '-',
      target: '< 300 MB (peak)',
      status: judge(fanOut.peakRssBytes, (bytes) => bytes < 300e6),
    });
    const deliveryMs = median(fanOut.deliveryMs);
    rows.push({
      figure: `one action delivered to all ${agents} agents`,
      syncctl: `${formatMs(deliveryMs)} (half by ${formatMs(median(fanOut.deliveryP50Ms))})`,
      peer: '-',
      ratio: '-',
      target: '< 2 s',
      status: judge(deliveryMs, (ms) => ms < 2000),
    });
  }
  return rows;
}

function markdownTable(headers: string[], rows: string[][]): string {
  const escape = (cell: string): string => cell.replace(/\|/g, '\\|');
  return [`| ${headers.join(' | ')} |`, `|${headers.map(() => '---').join('|')}|`, ...rows.map((row) => `| ${row.map(escape).join(' | ')} |`)].join('\n');
}

/** Builds the result rows: each figure with the peer's figure, the ratio, the target and whether it is met. */
export function resultRows(results: BenchResults): Row[] {
  return [...backupRows(results, 'A'), ...backupRows(results, 'B'), ...incrementalRow(results), ...latencyRows(results), ...scaleRows(results)];
}

/** Formats the run as Markdown: results, machine limits and peak memory. */
export function formatReport(results: BenchResults): string {
  const rows = resultRows(results);
  const network = results.isolatedNetwork ? 'in a private network namespace with only loopback up (unshare -n)' : 'in the host network namespace';
  const sections = [
    `Medians of ${results.repetitions} repetition(s)${results.quick ? ' (quick run: smaller trees, figures not comparable with a full run)' : ''}, run ${network}, syncctl ${results.versions.syncctl}.`,
    markdownTable(['figure', 'syncctl', 'peer', 'ratio', 'target', 'status'], rows.map((row) => [row.figure, row.syncctl, row.peer, row.ratio, row.target, row.status])),
  ];

  const limitRows = Object.entries(results.limits).map(([label, limits]) => {
    const bytes = results.trees[label].bytes;
    return [`tree ${label}`, withRate(median(limits.readMs), bytes), withRate(median(limits.hashMs), bytes), formatMs(treeLimitMs(limits)), withRate(median(limits.copyMs), bytes)];
  });
  if (limitRows.length > 0) {
    const headers = ['tree', 'read with cat', 'read and SHA-256 in Node, one core', 'limit (the slower)', 'copy with cp -r (not in the limit)'];
    sections.push('Machine limits (page cache warm):', markdownTable(headers, limitRows));
  }

  const peaks = results.peakMemory.map((peak) => [peak.process, peak.scenario, formatMB(peak.peakRssBytes)]);
  if (peaks.length > 0) sections.push('Peak memory (VmHWM) of the syncctl processes:', markdownTable(['process', 'scenario', 'peak RSS'], peaks));

  const treeRows = Object.entries(results.trees).map(([label, tree]) => [label, tree.files.toLocaleString('en-US'), tree.folders.toLocaleString('en-US'), formatMB(tree.bytes)]);
  sections.push('Data:', markdownTable(['tree', 'files', 'folders', 'size'], treeRows));
  if (results.skipped.length > 0) sections.push(`Skipped: ${results.skipped.join('; ')}`);
  for (const warning of results.warnings) sections.push(`WARNING: ${warning}.`);
  return `${sections.join('\n\n')}\n`;
}
