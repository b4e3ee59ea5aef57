import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The parts of a V8 `.cpuprofile` (as `node --cpu-prof` writes it) that the summary reads. */
interface CpuProfile {
  nodes: Array<{
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
    children?: number[];
  }>;
  /** µs of CLOCK_MONOTONIC when sampling began. */
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** A time span in µs of CLOCK_MONOTONIC, the clock of the profile's `startTime`. */
export interface TimeSpan {
  startUs: number;
  endUs: number;
}

/** Time spent in one function: `selfMs` in its own code, `totalMs` with everything it called. */
export interface FunctionTime {
  name: string;
  location: string;
  selfMs: number;
  totalMs: number;
}

export interface ProfileSummary {
  file: string;
  /** Scope of the samples, such as the label of the timed steps they were cut to. */
  scope: string;
  sampledMs: number;
  /** Sampled time outside JavaScript: idle, garbage collection and the program's own root. */
  idleMs: number;
  gcMs: number;
  functions: FunctionTime[];
}

const repositoryRoot = fileURLToPath(new URL('..', import.meta.url));

function describeLocation(url: string, lineNumber: number): string {
  if (url === '') return '(native)';
  const file = url.startsWith('file://') ? fileURLToPath(url) : url;
  const relative = file.startsWith(repositoryRoot) ? path.relative(repositoryRoot, file) : file;
  // Code that tsx compiled reports line 0 for every function, so that line is left out.
  return lineNumber > 0 ? `${relative}:${lineNumber + 1}` : relative;
}

export function readProfile(file: string): CpuProfile {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
}

/**
 * Sums a profile's samples per function, only those inside `spans` when spans are given. A
 * function's total time counts each sample once even when the function is on the stack several
 * times, so recursion does not inflate it.
 */
export function summarizeProfile(file: string, profile: CpuProfile = readProfile(file), spans?: readonly TimeSpan[], scope = 'whole process'): ProfileSummary {
  const parentOf = new Map<number, number>();
  const nodeById = new Map<number, CpuProfile['nodes'][number]>();
  for (const node of profile.nodes) {
    nodeById.set(node.id, node);
    for (const child of node.children ?? []) parentOf.set(child, node.id);
  }

  const times = new Map<string, FunctionTime>();
  const keyOf = (node: CpuProfile['nodes'][number]): string => {
    const { functionName, url, lineNumber } = node.callFrame;
    const name = functionName === '' ? '(anonymous)' : functionName;
    const location = describeLocation(url, lineNumber);
    const key = `${name} ${location}`;
    if (!times.has(key)) times.set(key, { name, location, selfMs: 0, totalMs: 0 });
    return key;
  };

  let sampledMs = 0;
  let idleMs = 0;
  let gcMs = 0;
  let timestampUs = profile.startTime;
  for (let index = 0; index < profile.samples.length; index += 1) {
    const deltaUs = profile.timeDeltas[index] ?? 0;
    timestampUs += deltaUs;
    if (spans !== undefined && !spans.some((span) => timestampUs >= span.startUs && timestampUs <= span.endUs)) continue;
    const deltaMs = deltaUs / 1000;
    sampledMs += deltaMs;
    const leaf = nodeById.get(profile.samples[index]);
    if (leaf === undefined) continue;
    const leafName = leaf.callFrame.functionName;
    if (leafName === '(idle)' || leafName === '(program)') {
      idleMs += deltaMs;
      continue;
    }
    if (leafName === '(garbage collector)') gcMs += deltaMs;

    times.get(keyOf(leaf))!.selfMs += deltaMs;
    const seen = new Set<string>();
    for (let id: number | undefined = leaf.id; id !== undefined; id = parentOf.get(id)) {
      const key = keyOf(nodeById.get(id)!);
      if (seen.has(key)) continue;
      seen.add(key);
      times.get(key)!.totalMs += deltaMs;
    }
  }
  times.delete(`(root) (native)`);
  return { file, scope, sampledMs, idleMs, gcMs, functions: [...times.values()] };
}

/** Formats the functions with the most self time and the most total time, `limit` of each. */
export function formatProfileSummary(summary: ProfileSummary, limit = 15): string {
  const busyMs = summary.sampledMs - summary.idleMs;
  const lines = [
    `${path.basename(summary.file)}, ${summary.scope}: ${Math.round(summary.sampledMs)} ms sampled, ${Math.round(busyMs)} ms busy, ${Math.round(summary.gcMs)} ms in garbage collection`,
  ];
  const percent = (ms: number): string => `${((100 * ms) / Math.max(busyMs, 1)).toFixed(1)}%`;
  const row = (item: FunctionTime, ms: number): string => `  ${String(Math.round(ms)).padStart(7)} ms ${percent(ms).padStart(6)}  ${item.name}  ${item.location}`;

  lines.push('self time (share of busy time):');
  for (const item of [...summary.functions].sort((a, b) => b.selfMs - a.selfMs).slice(0, limit)) lines.push(row(item, item.selfMs));
  lines.push('total time, repository code only:');
  const own = summary.functions.filter((item) => /^(agent|coordinator|src)\//.test(item.location));
  for (const item of own.sort((a, b) => b.totalMs - a.totalMs).slice(0, limit)) lines.push(row(item, item.totalMs));
  return lines.join('\n');
}

/** Minimum busy time in ms for a profile's share of a group of steps to be listed. */
const minimumBusyMs = 20;

/**
 * Summarizes each profile as a whole and, for each label of `windows`, within the spans of that
 * label. Labels during which a process was almost idle are left out.
 */
export function summarizeProfiles(files: readonly string[], windows: ReadonlyArray<TimeSpan & { label: string }>): string {
  const labels = [...new Set(windows.map((window) => window.label))];
  const sections: string[] = [];
  for (const file of files) {
    const profile = readProfile(file);
    sections.push(formatProfileSummary(summarizeProfile(file, profile)));
    for (const label of labels) {
      const spans = windows.filter((window) => window.label === label);
      const summary = summarizeProfile(file, profile, spans, `during "${label}" (${spans.length} span${spans.length === 1 ? '' : 's'})`);
      if (summary.sampledMs - summary.idleMs >= minimumBusyMs) sections.push(formatProfileSummary(summary));
    }
  }
  return sections.join('\n\n');
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const args = process.argv.slice(2);
  const resultsIndex = args.indexOf('--results');
  let windows: Array<TimeSpan & { label: string }> = [];
  if (resultsIndex >= 0) {
    const results = JSON.parse(fs.readFileSync(args[resultsIndex + 1], 'utf8')) as { windows?: typeof windows };
    windows = results.windows ?? [];
    args.splice(resultsIndex, 2);
  }
  if (args.length === 0) {
    process.stderr.write('Usage: node --import tsx bench/profile-summary.ts [--results RESULTS.json] FILE.cpuprofile...\n');
    process.exit(2);
  }
  process.stdout.write(`${summarizeProfiles(args, windows)}\n`);
}
