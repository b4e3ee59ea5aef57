import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { benchBackupAndRestore } from './backup-restore.ts';
import { freshFolder, rotate, timedStep, type BenchContext } from './context.ts';
import { ensureTree, type Tree, type TreeSpec } from './data.ts';
import { benchIncremental } from './incremental.ts';
import { measureTreeLimits } from './limits.ts';
import { PeakMemory, formatMs } from './measure.ts';
import { summarizeProfiles } from './profile-summary.ts';
import { sleep } from './processes.ts';
import { formatReport, type BenchResults } from './report.ts';
import { benchAgentWatch } from './scale-agent.ts';
import { benchCoordinatorFanOut } from './scale-coordinator.ts';
import { SyncctlLatencyRig } from './sync-latency.ts';
import { SyncthingPair } from './syncthing.ts';
import { findPeers, peerPackages, type PeerName } from './tools.ts';

const repositoryRoot = fileURLToPath(new URL('..', import.meta.url));
const dataRoot = path.join(repositoryRoot, '.bench-data');
const seed = 'syncctl-bench-1';
const scenarios = ['limits', 'backup-a', 'backup-b', 'incremental', 'latency', 'watch', 'fan-out'] as const;
type Scenario = (typeof scenarios)[number];

/** Environment variable that marks a process already running in its own network namespace. */
const isolatedMarker = 'SYNCCTL_BENCH_ISOLATED';

/**
 * Time to wait after deleting a scratch folder of an earlier run before timing anything. ext4
 * avoids reusing inodes freed in the last minutes, which can make a mass create right after a
 * mass delete many times slower.
 */
const afterDeleteWaitMs = 60_000;

interface Sizes {
  treeA: TreeSpec;
  treeB: TreeSpec;
  treeWatch: TreeSpec;
  latencyFiles: number;
  simulatedAgents: number;
  repetitions: number;
  warmUp: boolean;
}

const fullSizes: Sizes = {
  treeA: { name: 'tree-a', files: 20_000, folders: 400, minBytes: 1024, maxBytes: 16 * 1024 },
  treeB: { name: 'tree-b', files: 8, folders: 1, minBytes: 64 << 20, maxBytes: 64 << 20 },
  treeWatch: { name: 'tree-watch', files: 100_000, folders: 10_000, minBytes: 1, maxBytes: 512 },
  latencyFiles: 50,
  simulatedAgents: 2000,
  repetitions: 3,
  warmUp: true,
};

const quickSizes: Sizes = {
  treeA: { name: 'tree-a', files: 2000, folders: 40, minBytes: 1024, maxBytes: 16 * 1024 },
  treeB: { name: 'tree-b', files: 2, folders: 1, minBytes: 16 << 20, maxBytes: 16 << 20 },
  treeWatch: { name: 'tree-watch', files: 5000, folders: 500, minBytes: 1, maxBytes: 512 },
  latencyFiles: 6,
  simulatedAgents: 200,
  repetitions: 1,
  warmUp: false,
};

const usage = `Usage: npm run bench -- [--quick] [--only SCENARIO,...] [--repetitions N] [--cpu-prof] [--keep] [--no-isolation]

Runs syncctl and restic, rclone and Syncthing on the same seeded data and prints a Markdown table.
  --quick          smaller trees and one repetition, for a smoke run of about a minute
  --only LIST      run only these scenarios: ${scenarios.join(', ')}
  --repetitions N  timed repetitions per scenario (default 3, or 1 with --quick)
  --cpu-prof       run the coordinator and agents under node --cpu-prof and summarize the profiles
  --keep           keep the scratch folder .bench-data/work/PID after the run
  --no-isolation   do not re-run inside a private network namespace (unshare -n)
`;

function parseOptions() {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      repetitions: { type: 'string' },
      'cpu-prof': { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
      'no-isolation': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(usage);
    process.exit(0);
  }
  const only = values.only === undefined ? [...scenarios] : values.only.split(',').map((name) => name.trim());
  for (const name of only) {
    if (!(scenarios as readonly string[]).includes(name)) {
      process.stderr.write(`Unknown scenario "${name}" in --only; choose from ${scenarios.join(', ')}\n`);
      process.exit(2);
    }
  }
  const repetitions = values.repetitions === undefined ? undefined : Number(values.repetitions);
  if (repetitions !== undefined && !(Number.isInteger(repetitions) && repetitions >= 1)) {
    process.stderr.write(`Invalid --repetitions "${values.repetitions}": give a whole number of at least 1\n`);
    process.exit(2);
  }
  return { ...values, repetitions, only: new Set(only as Scenario[]) };
}

function commandWorks(file: string, args: string[]): boolean {
  return spawnSync(file, args, { stdio: 'ignore' }).status === 0;
}

/**
 * Re-runs this script inside a private network namespace in which only loopback is up, so no
 * tool under test can reach another address. Returns the exit code of that run, or null when
 * isolation is not available here (not root, or no unshare or ip command).
 */
function runIsolated(): number | null {
  const available = process.getuid?.() === 0 && commandWorks('unshare', ['-n', 'true']) && commandWorks('sh', ['-c', 'command -v ip']);
  if (!available) return null;
  const script = 'ip link set lo up && exec "$@"';
  const args = ['-n', 'sh', '-c', script, 'sh', process.execPath, ...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)];
  const result = spawnSync('unshare', args, { stdio: 'inherit', env: { ...process.env, [isolatedMarker]: '1' } });
  return result.status ?? 1;
}

function describeMachine(): Record<string, string> {
  const shell = (command: string): string => {
    try {
      return execFileSync('sh', ['-c', command], { encoding: 'utf8' }).trim();
    } catch {
      return 'unknown';
    }
  };
  return {
    cpus: `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'unknown'}`,
    nproc: shell('nproc'),
    memory: shell('free -h | sed -n 2p'),
    disk: shell(`df -h ${JSON.stringify(dataRoot)} | tail -1`),
    filesystem: shell(`df -T ${JSON.stringify(dataRoot)} | tail -1 | awk '{print $2}'`),
    kernel: os.release(),
    loadAverageAtStart: os.loadavg().map((load) => load.toFixed(2)).join(' '),
  };
}

async function main(): Promise<void> {
  const options = parseOptions();
  if (process.env[isolatedMarker] !== '1' && !options['no-isolation']) {
    const status = runIsolated();
    if (status !== null) process.exit(status);
    process.stderr.write('Network isolation is not available (needs root, unshare and ip); running in the host network namespace. Syncthing is still configured for loopback only.\n');
  }

  const sizes = { ...(options.quick ? quickSizes : fullSizes) };
  if (options.repetitions !== undefined) sizes.repetitions = options.repetitions;
  const startedAt = new Date();
  const started = performance.now();
  const log = (line: string): void => {
    process.stderr.write(`[${formatMs(performance.now() - started).padStart(8)}] ${line}\n`);
  };

  const workRoot = path.join(dataRoot, 'work');
  const leftovers = staleWorkFolders(workRoot);
  for (const folder of leftovers) {
    log(`removing the scratch folder of an earlier run: ${folder}`);
    fs.rmSync(folder, { recursive: true, force: true });
  }
  if (leftovers.length > 0 && !options.quick) {
    log(`waiting ${afterDeleteWaitMs / 1000} s so that freed inodes do not slow the timed steps`);
    await sleep(afterDeleteWaitMs);
  }
  // Each run gets its own folder named after its process id, so two runs at once keep apart.
  const work = path.join(workRoot, String(process.pid));
  fs.mkdirSync(work, { recursive: true });

  const peers = findPeers();
  const skipped: string[] = [];
  for (const name of Object.keys(peers) as PeerName[]) {
    const peer = peers[name];
    if (peer === null) {
      const message = `${name} is not on PATH, so its comparisons are skipped; install it with: apt-get install ${peerPackages[name]}`;
      log(message);
      skipped.push(message);
    } else {
      log(`found ${peer.version} at ${peer.path}`);
    }
  }

  const runId = startedAt.toISOString().replace(/[:.]/g, '-');
  const profileDir = options['cpu-prof'] ? path.join(dataRoot, 'profiles', runId) : undefined;
  if (profileDir !== undefined) fs.mkdirSync(profileDir, { recursive: true });
  const context: BenchContext = {
    work,
    repetitions: sizes.repetitions,
    warmUp: sizes.warmUp,
    quick: options.quick,
    peers,
    peak: new PeakMemory(),
    clusterOptions: { cpuProfileDir: profileDir },
    windows: [],
    log,
  };

  const treeFolder = path.join(dataRoot, 'trees', options.quick ? 'quick' : 'full');
  const trees: Record<string, Tree> = {};
  const wants = (scenario: Scenario): boolean => options.only.has(scenario);
  if (wants('limits') || wants('backup-a') || wants('incremental')) trees.A = ensureTree(treeFolder, sizes.treeA, seed, log);
  if (wants('limits') || wants('backup-b')) trees.B = ensureTree(treeFolder, sizes.treeB, seed, log);
  if (wants('watch')) trees.watch = ensureTree(treeFolder, sizes.treeWatch, seed, log);

  const productAtStart = readProductState();
  const versions: Record<string, string> = { node: process.version, syncctl: describeProduct(productAtStart) };
  for (const peer of Object.values(peers)) if (peer !== null) versions[peer.name] = peer.version;

  const results: BenchResults = {
    startedAt: startedAt.toISOString(),
    durationMs: 0,
    command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
    quick: options.quick,
    repetitions: sizes.repetitions,
    isolatedNetwork: process.env[isolatedMarker] === '1',
    machine: describeMachine(),
    versions,
    skipped,
    warnings: [],
    trees: {},
    limits: {},
    backupRestore: {},
    peakMemory: [],
  };
  for (const [label, tree] of Object.entries(trees)) results.trees[label] = { files: tree.files, folders: tree.spec.folders, bytes: tree.bytes };

  try {
    if (wants('limits')) {
      for (const label of ['A', 'B']) {
        results.limits[label] = await measureTreeLimits(context, trees[label]);
        log(`limits of tree ${label} measured`);
      }
    }
    for (const label of ['A', 'B'] as const) {
      if (!wants(label === 'A' ? 'backup-a' : 'backup-b')) continue;
      results.backupRestore[label] = await benchBackupAndRestore(context, trees[label], label);
    }
    if (wants('incremental')) results.incremental = await benchIncremental(context, trees.A, seed);
    if (wants('latency')) results.latency = await benchLatency(context, sizes.latencyFiles);
    if (wants('watch')) results.watch = await benchAgentWatch(context, trees.watch);
    if (wants('fan-out')) results.fanOut = await benchCoordinatorFanOut(context, sizes.simulatedAgents);
  } finally {
    results.durationMs = performance.now() - started;
    const productAtEnd = readProductState();
    if (productAtStart !== null && productAtEnd !== null && (productAtStart.commit !== productAtEnd.commit || productAtStart.contentHash !== productAtEnd.contentHash)) {
      const message = `the product code changed during the run (from ${describeProduct(productAtStart)} to ${describeProduct(productAtEnd)}), so processes started at different times ran different code`;
      log(`WARNING: ${message}`);
      results.warnings.push(message);
    }
    results.machine.loadAverageAtEnd = os.loadavg().map((load) => load.toFixed(2)).join(' ');
    results.windows = context.windows;
    for (const [key, peak] of context.peak.peaks) results.peakMemory.push({ process: key.split('\t')[0], scenario: peak.scenario, peakRssBytes: peak.bytes });
    const resultsDir = path.join(dataRoot, 'results');
    fs.mkdirSync(resultsDir, { recursive: true });
    const report = formatReport(results);
    fs.writeFileSync(path.join(resultsDir, `${runId}.json`), `${JSON.stringify(results, null, 2)}\n`);
    fs.writeFileSync(path.join(resultsDir, `${runId}.md`), report);
    if (!options.keep) fs.rmSync(work, { recursive: true, force: true });
    process.stdout.write(`\n${report}`);
    log(`finished in ${formatMs(results.durationMs)}; results in ${path.relative(repositoryRoot, resultsDir)}/${runId}.{json,md}`);
    if (profileDir !== undefined) writeProfileSummary(profileDir, context, log);
  }
}

/** Measures the sync latency of syncctl and of Syncthing in rotating order, one list of ms per repetition. */
async function benchLatency(context: BenchContext, files: number) {
  const latency = { syncctl: [] as number[][], syncthing: [] as number[][] };
  const rig = new SyncctlLatencyRig(freshFolder(context, 'syncctl-latency'), context.clusterOptions);
  const syncthingBinary = context.peers.syncthing?.path;
  const pair = syncthingBinary === undefined ? null : new SyncthingPair(syncthingBinary, freshFolder(context, 'syncthing'));
  try {
    let started = performance.now();
    await rig.start();
    context.log(`sync latency: syncctl coordinator and two agents ready after ${formatMs(performance.now() - started)}`);
    started = performance.now();
    if (pair !== null) await pair.start();
    if (pair !== null) context.log(`sync latency: two Syncthing instances connected after ${formatMs(performance.now() - started)}`);
    for (let round = 0; round < context.repetitions; round += 1) {
      const tools = pair === null ? ['syncctl'] : ['syncctl', 'syncthing'];
      for (const tool of rotate(tools, round)) {
        const latencies = tool === 'syncctl' ? (await timedStep(context, 'sync latency syncctl', () => rig.measure(files, `round-${round}`))).result : await pair!.measure(files, `round-${round}`);
        latency[tool as 'syncctl' | 'syncthing'].push(latencies);
        const sorted = [...latencies].sort((a, b) => a - b);
        context.log(`sync latency ${round + 1}/${context.repetitions}: ${tool} median ${Math.round(sorted[Math.floor(sorted.length / 2)])} ms, max ${Math.round(sorted.at(-1)!)} ms`);
      }
    }
    context.peak.record('agent', 'sync latency (source)', rig.source?.child.pid);
    context.peak.record('agent', 'sync latency (destination)', rig.destination?.child.pid);
    context.peak.record('coordinator', 'sync latency', rig.cluster.coordinator?.pid);
  } finally {
    await rig.stop();
    await pair?.stop();
  }
  return latency;
}

/** Folders whose code the coordinator and agent processes run. */
const productPaths = ['agent', 'coordinator', 'src', 'bin', 'package.json'];

/**
 * The product code the processes run: the commit, the product files that differ from it, and a
 * SHA-256 over those files' contents, so a change during the run can be detected.
 */
interface ProductState {
  commit: string;
  changedFiles: string[];
  contentHash: string;
}

function readProductState(): ProductState | null {
  const git = (args: string[]): string => execFileSync('git', ['-C', repositoryRoot, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  try {
    const commit = git(['rev-parse', '--short', 'HEAD']).trim();
    const changedFiles = git(['status', '--porcelain', '--untracked-files=all', '--', ...productPaths])
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => line.slice(3))
      .sort();
    const hash = createHash('sha256');
    for (const file of changedFiles) {
      const absolute = path.join(repositoryRoot, file);
      hash.update(`${file}\0`);
      if (fs.existsSync(absolute) && fs.statSync(absolute).isFile()) hash.update(fs.readFileSync(absolute));
    }
    return { commit, changedFiles, contentHash: hash.digest('hex') };
  } catch {
    // Outside a git checkout only the package version is reported.
    return null;
  }
}

function describeProduct(state: ProductState | null): string {
  const manifest = JSON.parse(fs.readFileSync(path.join(repositoryRoot, 'package.json'), 'utf8')) as { version: string };
  if (state === null) return manifest.version;
  const changes = state.changedFiles.length === 0 ? '' : ` with uncommitted changes in ${state.changedFiles.length} files: ${state.changedFiles.join(', ')}`;
  return `${manifest.version} (commit ${state.commit}${changes})`;
}

function writeProfileSummary(profileDir: string, context: BenchContext, log: (line: string) => void): void {
  const files = fs.readdirSync(profileDir).filter((name) => name.endsWith('.cpuprofile')).map((name) => path.join(profileDir, name));
  const text = summarizeProfiles(files, context.windows);
  const summaryFile = path.join(profileDir, 'summary.txt');
  fs.writeFileSync(summaryFile, `${text}\n`);
  log(`${files.length} CPU profiles in ${path.relative(repositoryRoot, profileDir)}; summary in ${path.relative(repositoryRoot, summaryFile)}`);
}

await main();

/**
 * Returns the scratch folders under `workRoot` whose run has ended: those named after a process
 * id that no longer exists, and anything else found there.
 */
function staleWorkFolders(workRoot: string): string[] {
  if (!fs.existsSync(workRoot)) return [];
  return fs
    .readdirSync(workRoot)
    .filter((name) => !/^\d+$/.test(name) || !processExists(Number(name)))
    .map((name) => path.join(workRoot, name));
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
