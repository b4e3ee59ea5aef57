import path from 'node:path';
import type { Company } from './company.ts';
import { makeTempDir } from './temp.ts';
import { describeTree, diffTrees, writeTree, type TreeDescription, type TreeSpec } from './tree.ts';
import { waitFor } from './wait.ts';

/** A stored backup config as the CLI prints it with `--json`. */
export interface BackupConfigView {
  id: number;
  name: string;
  enable: boolean;
  companyId: number;
  resourceId: number | null;
  scheduleDetails: { scheduleType: string; scheduleInterval?: number; cronExpression?: string };
  pathDetails: { includePaths: string[]; excludePaths: string[] };
  deleted: boolean;
  createdAt: string;
  updatedAt: string;
}

/** The result of `backup run --wait --json`. */
export interface BackupRunResult {
  snapshotId: number;
  files: number;
  bytes?: number;
  filesUploaded: number;
  bytesUploaded: number;
  status?: string;
  warnings?: string[];
}

/** An entry of `backup snapshots --json`. */
export interface SnapshotListEntry {
  id: number;
  createdAt: string;
  files: number;
  bytes: number;
}

export interface RestoreResult {
  files: number;
  bytes: number;
}

export interface AddBackupOptions {
  name: string;
  paths: string[];
  resourceId?: number;
  exclude?: string[];
  /** `--every`, such as `30m` or `1d`; `1d` when neither this nor `cron` is given. */
  every?: string;
  cron?: string;
}

export async function addBackup(company: Company, options: AddBackupOptions): Promise<BackupConfigView> {
  return company.cliJson<BackupConfigView>(addBackupArgs(company, options));
}

/** Arguments of `syncctl backup add` for `options`. */
export function addBackupArgs(company: Company, options: AddBackupOptions): string[] {
  const args = ['backup', 'add', '--company', String(company.companyId), '--name', options.name];
  if (options.resourceId !== undefined) args.push('--resource', String(options.resourceId));
  // One flag per value: the form that both a repeatable and a variadic option accept.
  for (const include of options.paths) args.push('--path', include);
  for (const exclude of options.exclude ?? []) args.push('--exclude', exclude);
  if (options.cron !== undefined) args.push('--cron', options.cron);
  else args.push('--every', options.every ?? '1d');
  args.push('--json');
  return args;
}

/** Runs a backup with `backup run ID --resource RID --wait --json` and returns its result. */
export async function runBackup(company: Company, configId: number, resourceId: number): Promise<BackupRunResult> {
  return company.cliJson<BackupRunResult>([
    'backup', 'run', String(configId), '--company', String(company.companyId),
    '--resource', String(resourceId), '--wait', '--json',
  ]);
}

export async function listSnapshots(company: Company, configId: number, resourceId: number): Promise<SnapshotListEntry[]> {
  return company.cliJson<SnapshotListEntry[]>([
    'backup', 'snapshots', String(configId), '--company', String(company.companyId),
    '--resource', String(resourceId), '--json',
  ]);
}

/** Waits until the config has at least `count` snapshots for the resource, and returns them. */
export async function waitForSnapshots(
  company: Company,
  configId: number,
  resourceId: number,
  count: number,
  timeoutMs = 30_000,
): Promise<SnapshotListEntry[]> {
  let last: SnapshotListEntry[] = [];
  return waitFor(
    async () => {
      last = await listSnapshots(company, configId, resourceId);
      return last.length >= count ? last : undefined;
    },
    {
      what: `${count} snapshot(s) of config ${configId} on resource ${resourceId}`,
      timeoutMs,
      intervalMs: 250,
      context: () => `last snapshot list: ${JSON.stringify(last)}`,
    },
  );
}

/** Snapshot ids in creation order, oldest first. */
export function snapshotIdsOldestFirst(snapshots: SnapshotListEntry[]): number[] {
  return [...snapshots]
    .sort((a, b) => Date.parse(a.createdAt) - Date.parse(b.createdAt) || a.id - b.id)
    .map((snapshot) => snapshot.id);
}

export interface RestoreOptions {
  configId: number;
  resourceId: number;
  /** A snapshot id or `latest`; `latest` when omitted. */
  snapshot?: number | 'latest';
  /** Target folder; a new temp folder when omitted. */
  to?: string;
  /** `--on`: the resource that writes the files. */
  on?: number;
  /** `--path`: the part of the snapshot to restore. */
  path?: string;
}

/** Arguments of `syncctl backup restore ... --wait --json`. */
export function restoreArgs(company: Company, options: RestoreOptions & { to: string }): string[] {
  const args = [
    'backup', 'restore', String(options.configId), '--company', String(company.companyId),
    '--resource', String(options.resourceId), '--snapshot', String(options.snapshot ?? 'latest'),
    '--to', options.to,
  ];
  if (options.on !== undefined) args.push('--on', String(options.on));
  if (options.path !== undefined) args.push('--path', options.path);
  args.push('--wait', '--json');
  return args;
}

/** Restores a snapshot and returns the result with the target folder. */
export async function restoreSnapshot(
  company: Company,
  options: RestoreOptions,
): Promise<{ result: RestoreResult; to: string }> {
  const to = options.to ?? (await makeTempDir('restore'));
  const result = await company.cliJson<RestoreResult>(restoreArgs(company, { ...options, to }));
  return { result, to };
}

/** Maps the absolute path `original` to where a restore into `to` writes it: `/data/a.txt` to `TO/data/a.txt`. */
export function restoredPath(to: string, original: string): string {
  return path.join(to, original);
}

export interface BackupUntilOptions {
  configId: number;
  resourceId: number;
  source: string;
  timeoutMs?: number;
  /** Compare folder mtimes too (default false: the test of folder mtimes does). */
  folderMtimes?: boolean;
  /** Resource that restores each snapshot for the comparison (`--on`); the backing-up one when omitted. */
  restoreOn?: number;
}

/**
 * Runs backups of `source` until one restores equal to it, and returns every run made. A change
 * reaches a run only once the agent's watcher has reported it, which takes a moment after the
 * write, so the first run may still miss it. The timeout error lists the last differences.
 */
export async function backupUntilMatches(company: Company, options: BackupUntilOptions): Promise<BackupRunResult[]> {
  const runs: BackupRunResult[] = [];
  let differences: string[] = [];
  await waitFor(
    async () => {
      const expected = await describeTree(options.source);
      const run = await runBackup(company, options.configId, options.resourceId);
      runs.push(run);

      const { to } = await restoreSnapshot(company, {
        configId: options.configId,
        resourceId: options.resourceId,
        snapshot: run.snapshotId,
        on: options.restoreOn,
      });
      differences = ['the restored tree is missing its root'];
      const restored = await describeTree(restoredPath(to, options.source));
      differences = diffTrees(expected, restored, { folderMtimes: options.folderMtimes ?? false });
      return differences.length === 0;
    },
    {
      what: `a snapshot of ${options.source} that restores equal to it`,
      timeoutMs: options.timeoutMs ?? 30_000,
      intervalMs: 300,
      context: () => `runs so far: ${JSON.stringify(runs)}\nlast differences:\n  ${differences.join('\n  ')}`,
    },
  );
  return runs;
}

/** Sums the upload counters of several runs. */
export function totalUploads(runs: BackupRunResult[]): { filesUploaded: number; bytesUploaded: number } {
  return {
    filesUploaded: runs.reduce((sum, run) => sum + run.filesUploaded, 0),
    bytesUploaded: runs.reduce((sum, run) => sum + run.bytesUploaded, 0),
  };
}

export interface BackedUpTree {
  /** Absolute path of the new source folder. */
  source: string;
  /** The source as written, before any later change. */
  tree: TreeDescription;
  config: BackupConfigView;
  /** The snapshot of the config's initial full push. */
  snapshot: SnapshotListEntry;
}

/**
 * Writes `spec` into a new source folder, adds a backup config of it for the resource, and
 * waits for the snapshot of the initial full push that a new config gets without any run.
 */
export async function backUpNewTree(
  company: Company,
  resourceId: number,
  spec: TreeSpec,
  options: { exclude?: string[] } = {},
): Promise<BackedUpTree> {
  const source = await makeTempDir('source');
  await writeTree(source, spec);
  const tree = await describeTree(source);
  const config = await addBackup(company, {
    name: `backup of ${path.basename(source)}`,
    paths: [source],
    resourceId,
    exclude: options.exclude,
  });
  const [snapshot] = await waitForSnapshots(company, config.id, resourceId, 1);
  return { source, tree, config, snapshot };
}
