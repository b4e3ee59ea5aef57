import fs from 'node:fs/promises';
import type { BackupRunStart, RunStart } from '../../src/protocol/agent-api.ts';
import type { BlobLocation, ManifestEntry, ManifestHeader } from '../../src/protocol/manifest.ts';
import type { RunProgress } from '../../src/protocol/runs.ts';
import type { AgentContext } from '../agent-context.ts';
import { createPathFilter } from '../watcher/path-filter.ts';
import { buildBackupTree, type BackupTree } from './backup-tree.ts';
import { uploadContents } from './content-upload.ts';
import { writeManifestFile } from './manifest-file.ts';
import { RunProgressReporter } from './run-progress.ts';
import { failRun, limitWarnings } from './run-outcome.ts';
import { loadSnapshotEntries } from './snapshot-manifest.ts';
import { putFile } from './store-http.ts';

export interface BackupRunResult extends RunProgress {
  status: 'completed' | 'failed';
  snapshotId?: number;
  warnings: string[];
}

export interface BackupRunOptions {
  /** Paths below which every file is hashed again; see `BuildTreeOptions.rehashBelow`. */
  rehashBelow?: readonly string[];
}

/**
 * Runs one backup: claims the run, builds the tree from the base snapshot and the changed paths
 * (or a full walk), uploads the contents the bucket lacks, uploads the manifest and commits. Any
 * error fails the run on the coordinator; nothing is thrown except when claiming fails.
 */
export async function runBackup(
  context: AgentContext,
  runId: number,
  signal: AbortSignal,
  options: BackupRunOptions = {},
): Promise<BackupRunResult> {
  const start = await claimBackupRun(context, runId, signal);
  const { config } = start;
  const logFields = { runId, configId: config.id, snapshotId: start.snapshotId };
  context.logger.info(
    { ...logFields, full: start.full, changedPaths: start.changedPaths.length },
    'backup run started',
  );

  const progress = new RunProgressReporter(context.client, runId, (error) =>
    context.logger.debug({ ...logFields, err: error }, 'progress report failed'),
  );
  try {
    const base = await loadBase(context, start, signal);
    const tree = await buildTree(context, start, base, options);
    progress.add(countFiles(tree.entries));

    const newBlobs = await uploadContents({
      client: context.client,
      signal,
      entries: tree.entries,
      base,
      toHash: tree.toHash,
      progress,
      warnings: tree.warnings,
      retry: tree.retry,
    });
    await progress.stop();

    const result = await commitSnapshot(
      context,
      start,
      base === null ? null : start.base!.snapshotId,
      tree,
      {
        newBlobs,
        progress,
        signal,
      },
    );
    if (tree.retry.length > 0) context.reportChanges(config.id, tree.retry);
    context.logger.info(
      { ...logFields, ...result, warnings: result.warnings.length },
      'backup run finished',
    );
    return { status: 'completed', snapshotId: start.snapshotId, ...result };
  } catch (error) {
    await progress.stop();
    context.logger.error({ ...logFields, err: error }, 'backup run failed');
    await failRun(context, runId, error, signal);
    return { status: 'failed', ...progress.counts, warnings: [] };
  }
}

async function claimBackupRun(
  context: AgentContext,
  runId: number,
  signal: AbortSignal,
): Promise<BackupRunStart> {
  const start = await context.client.post<RunStart>(`/agent/runs/${runId}/start`, {}, { signal });
  if (start.kind !== 'backup') {
    throw new Error(
      `Internal error: run ${runId} was sent as a backup but the coordinator started it as a ${start.kind}.`,
    );
  }
  return start;
}

async function loadBase(
  context: AgentContext,
  start: BackupRunStart,
  signal: AbortSignal,
): Promise<ReadonlyMap<string, ManifestEntry> | null> {
  if (start.base === null) return null;
  return loadSnapshotEntries(
    context.client,
    context.manifests,
    {
      configId: start.config.id,
      resourceId: context.resourceId,
      snapshotId: start.base.snapshotId,
      manifestUrl: start.base.manifestUrl,
    },
    signal,
  );
}

async function buildTree(
  context: AgentContext,
  start: BackupRunStart,
  base: ReadonlyMap<string, ManifestEntry> | null,
  options: BackupRunOptions,
): Promise<BackupTree> {
  const filter = createPathFilter({
    includePaths: start.config.includePaths,
    excludePaths: start.config.excludePaths,
    alwaysExcluded: context.alwaysExcluded,
  });
  const full = start.full || base === null;
  return buildBackupTree({
    filter,
    base,
    examine: full ? filter.roots : start.changedPaths,
    reuseExaminedHashes: full,
    rehashBelow: options.rehashBelow,
  });
}

interface CommitInput {
  newBlobs: BlobLocation[];
  progress: RunProgressReporter;
  signal: AbortSignal;
}

/** Writes and uploads the manifest, commits the snapshot, then caches the manifest locally. */
async function commitSnapshot(
  context: AgentContext,
  start: BackupRunStart,
  parentSnapshotId: number | null,
  tree: BackupTree,
  input: CommitInput,
): Promise<RunProgress & { warnings: string[] }> {
  const { config } = start;
  const header: ManifestHeader = {
    format: 'syncctl-manifest-1',
    snapshotId: start.snapshotId,
    companyId: config.companyId,
    configId: config.id,
    resourceId: context.resourceId,
    parentSnapshotId,
    createdAt: new Date().toISOString(),
    includePaths: config.includePaths,
    excludePaths: config.excludePaths,
  };
  const sorted = [...tree.entries.values()].sort(compareByPath);
  const manifestPath = context.manifests.temporaryPath(`manifest-${start.snapshotId}`);

  try {
    await writeManifestFile(manifestPath, header, sorted);
    const { size } = await fs.stat(manifestPath);
    await putFile(start.manifestUploadUrl, start.manifestKey, manifestPath, size, input.signal);

    const totals = countFiles(tree.entries);
    const { filesUploaded, bytesUploaded } = input.progress.counts;
    const warnings = limitWarnings(tree.warnings);
    await context.client.post(
      `/agent/runs/${start.runId}/commit`,
      {
        manifestKey: start.manifestKey,
        ...totals,
        filesUploaded,
        bytesUploaded,
        newBlobs: input.newBlobs,
        warnings,
      },
      { signal: input.signal },
    );
    await context.manifests.store(config.id, manifestPath);
    context.manifests.remember(config.id, start.snapshotId, tree.entries);
    return { ...totals, filesUploaded, bytesUploaded, warnings };
  } finally {
    await fs.rm(manifestPath, { force: true });
  }
}

/** Orders entries by path in JavaScript string order, the order manifests are written in. */
function compareByPath(a: ManifestEntry, b: ManifestEntry): number {
  if (a.path < b.path) return -1;
  if (a.path > b.path) return 1;
  return 0;
}

function countFiles(entries: ReadonlyMap<string, ManifestEntry>): { files: number; bytes: number } {
  let files = 0;
  let bytes = 0;
  for (const entry of entries.values()) {
    if (entry.type !== 'file') continue;
    files += 1;
    bytes += entry.size;
  }
  return { files, bytes };
}
