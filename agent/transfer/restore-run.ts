import fs from 'node:fs/promises';
import path from 'node:path';
import type { RestoreRunStart, RunStart } from '../../src/protocol/agent-api.ts';
import type { ManifestEntry } from '../../src/protocol/manifest.ts';
import { invalidInput } from '../../src/protocol/errors.ts';
import { isSameOrInside, normalizeAbsolute } from '../../src/protocol/paths.ts';
import type { AgentContext } from '../agent-context.ts';
import { describeError } from '../fs-error-code.ts';
import { openManifestFile } from './manifest-file.ts';
import { restoreFileContents } from './restore-contents.ts';
import { applyMetadata, createSymlinkAtomically, ensureFolder } from './restore-writes.ts';
import { RunProgressReporter } from './run-progress.ts';
import { failRun, limitWarnings } from './run-outcome.ts';
import { SafeTargetResolver } from './safe-target.ts';
import { downloadToFile } from './snapshot-manifest.ts';

export interface RestoreRunResult {
  status: 'completed' | 'failed';
  files: number;
  bytes: number;
  warnings: string[];
}

/** A manifest entry and the checked path it is restored to. */
export interface RestoreItem {
  entry: ManifestEntry;
  target: string;
}

/**
 * Runs one restore: claims the run, downloads the manifest, keeps the entries at or under the
 * requested path, and writes each under the target folder at its absolute path. Folders come
 * first, then file contents (each hash verified) with their mode and mtime, then symlinks, then
 * the mtime of symlinks and the mode and mtime of folders, deepest first. Entries that could end outside the target folder are skipped with a
 * warning. Any other error fails the run; only a failure to claim it is thrown.
 */
export async function runRestore(
  context: AgentContext,
  runId: number,
  signal: AbortSignal,
): Promise<RestoreRunResult> {
  const start = await claimRestoreRun(context, runId, signal);
  const logFields = { runId, snapshotId: start.snapshotId, to: start.to, path: start.path };
  context.logger.info(logFields, 'restore run started');

  const progress = new RunProgressReporter(context.client, runId, (error) =>
    context.logger.debug({ ...logFields, err: error }, 'progress report failed'),
  );
  const warnings: string[] = [];
  try {
    const resolver = new SafeTargetResolver(start.to);
    await fs.mkdir(resolver.root, { recursive: true });
    const items = await planRestore(context, start, resolver, warnings, signal);

    const folders = await createFolders(items.folders, warnings);
    const existingFolders = new Set([resolver.root, ...folders.map((item) => item.target)]);
    const written = await restoreFileContents(context.client, items.files, {
      progress,
      warnings,
      signal,
      existingFolders,
    });
    const links = await createSymlinks(items.symlinks, warnings);
    await applyAllMetadata(links, folders, warnings);
    await progress.stop();

    const totals = {
      files: written.length,
      bytes: sumSizes(written),
      warnings: limitWarnings(warnings),
    };
    await context.client.post(`/agent/runs/${runId}/commit`, totals, { signal });
    context.logger.info(
      { ...logFields, ...totals, warnings: totals.warnings.length },
      'restore run finished',
    );
    return { status: 'completed', ...totals };
  } catch (error) {
    await progress.stop();
    context.logger.error({ ...logFields, err: error }, 'restore run failed');
    await failRun(context, runId, error, signal);
    return { status: 'failed', files: 0, bytes: 0, warnings };
  }
}

async function claimRestoreRun(
  context: AgentContext,
  runId: number,
  signal: AbortSignal,
): Promise<RestoreRunStart> {
  const start = await context.client.post<RunStart>(`/agent/runs/${runId}/start`, {}, { signal });
  if (start.kind !== 'restore') {
    throw new Error(
      `Internal error: run ${runId} was sent as a restore but the coordinator started it as a ${start.kind}.`,
    );
  }
  return start;
}

interface RestorePlan {
  folders: RestoreItem[];
  files: RestoreItem[];
  symlinks: RestoreItem[];
}

/**
 * Downloads the manifest and sorts its selected entries by type, each with a checked target path.
 */
async function planRestore(
  context: AgentContext,
  start: RestoreRunStart,
  resolver: SafeTargetResolver,
  warnings: string[],
  signal: AbortSignal,
): Promise<RestorePlan> {
  const manifestPath = context.manifests.temporaryPath(`restore-${start.runId}`);
  const plan: RestorePlan = { folders: [], files: [], symlinks: [] };
  const selected = start.path === null ? null : normalizeAbsolute(start.path);
  try {
    await downloadToFile(
      start.manifestUrl,
      `the manifest of snapshot ${start.snapshotId}`,
      manifestPath,
      signal,
    );
    const reader = await openManifestFile(manifestPath);
    let matched = 0;
    for await (const entry of reader.entries) {
      if (selected !== null && !isSameOrInside(selected, entry.path)) continue;
      matched += 1;

      const target = await resolver.resolve(entry.path);
      if (!target.ok) {
        warnings.push(
          `Skipped ${entry.path}: ${target.reason}, so it could be written outside ${resolver.root}.`,
        );
        continue;
      }
      const item = { entry, target: target.path };
      if (entry.type === 'dir') plan.folders.push(item);
      else if (entry.type === 'file') plan.files.push(item);
      else plan.symlinks.push(item);
    }
    if (selected !== null && matched === 0) {
      throw invalidInput(`Path ${selected} is not in snapshot ${start.snapshotId}; restore without --path to see what it contains`);
    }
  } finally {
    await fs.rm(manifestPath, { force: true });
  }
  return plan;
}

/** Creates the folders, parents first. Returns the ones that exist as real folders afterwards. */
async function createFolders(folders: RestoreItem[], warnings: string[]): Promise<RestoreItem[]> {
  const created: RestoreItem[] = [];
  const sorted = [...folders].sort((a, b) => depthOf(a.target) - depthOf(b.target));
  for (const item of sorted) {
    try {
      if (await ensureFolder(item.target)) created.push(item);
      else {
        warnings.push(
          `Skipped folder ${item.entry.path}: ${item.target} exists and is not a folder.`,
        );
      }
    } catch (error) {
      warnings.push(`Cannot create folder ${item.target}: ${describeError(error)}.`);
    }
  }
  return created;
}

async function createSymlinks(symlinks: RestoreItem[], warnings: string[]): Promise<RestoreItem[]> {
  const created: RestoreItem[] = [];
  for (const item of symlinks) {
    try {
      await fs.mkdir(path.dirname(item.target), { recursive: true });
      await createSymlinkAtomically(item.entry.target ?? '', item.target);
      created.push(item);
    } catch (error) {
      warnings.push(`Cannot create symlink ${item.target}: ${describeError(error)}.`);
    }
  }
  return created;
}

/**
 * Sets the mtime of symlinks, then mode and mtime of folders deepest first, so writes inside do
 * not change them.
 */
async function applyAllMetadata(
  leaves: RestoreItem[],
  folders: RestoreItem[],
  warnings: string[],
): Promise<void> {
  const deepestFirst = [...folders].sort((a, b) => depthOf(b.target) - depthOf(a.target));
  for (const item of [...leaves, ...deepestFirst]) {
    try {
      await applyMetadata(item.target, item.entry);
    } catch (error) {
      warnings.push(`Cannot set mode and mtime of ${item.target}: ${describeError(error)}.`);
    }
  }
}

function depthOf(target: string): number {
  return target.split('/').length;
}

function sumSizes(items: RestoreItem[]): number {
  return items.reduce((total, item) => total + item.entry.size, 0);
}
