import { z } from 'zod';
import type { AgentBackupConfig, AgentSyncConfig } from './actions.ts';
import type { ManifestEntry } from './manifest.ts';

/** `GET /agent/configs`. */
export interface AgentConfigsResponse {
  resourceId: number;
  companyId: number;
  backupConfigs: AgentBackupConfig[];
  /** Sync configs whose source is this resource. */
  syncConfigs: AgentSyncConfig[];
}

export const changeKinds = ['add', 'change', 'unlink', 'addDir', 'unlinkDir', 'rescan'] as const;

/** `POST /agent/changes`: paths the watcher saw change under one config. */
export const reportChangesSchema = z.object({
  configId: z.number().int().positive(),
  changes: z
    .array(z.object({ path: z.string().min(1).startsWith('/'), kind: z.enum(changeKinds) }))
    .max(10_000),
});

export type ReportChangesInput = z.output<typeof reportChangesSchema>;

/** `POST /agent/runs`: the agent requests a full push of a config that has no snapshot yet. */
export const requestRunSchema = z.object({
  configId: z.number().int().positive(),
  full: z.boolean().default(true),
});

/** `POST /agent/runs/:id/start` for a backup run. */
export interface BackupRunStart {
  kind: 'backup';
  runId: number;
  snapshotId: number;
  config: AgentBackupConfig;
  full: boolean;
  base: { snapshotId: number; manifestUrl: string } | null;
  changedPaths: string[];
  manifestKey: string;
  manifestUploadUrl: string;
}

/** `POST /agent/runs/:id/start` for a restore run. */
export interface RestoreRunStart {
  kind: 'restore';
  runId: number;
  snapshotId: number;
  manifestUrl: string;
  to: string;
  path: string | null;
}

export type RunStart = BackupRunStart | RestoreRunStart;

/** `POST /agent/blobs/missing`: which of these content hashes the company's bucket lacks. */
export const missingBlobsSchema = z.object({
  hashes: z.array(z.string().regex(/^[0-9a-f]{64}$/)).max(20_000),
});

/** `POST /agent/urls`: signed URLs for keys of the agent's company bucket. */
export const signUrlsSchema = z.object({
  put: z.array(z.string().min(1)).max(1000).default([]),
  get: z.array(z.string().min(1)).max(20_000).default([]),
});

export interface SignedUrls {
  put: Record<string, string>;
  get: Record<string, string>;
}

export type { ManifestEntry };

/** One path under a sync config's source, as the source agent sees it on disk. */
export const syncEntrySchema = z.object({
  path: z.string().min(1).startsWith('/'),
  type: z.enum(['file', 'dir', 'symlink', 'deleted']),
  hash: z.string().regex(/^[0-9a-f]{64}$/).nullable().default(null),
  size: z.number().int().nonnegative().default(0),
  mode: z.number().int().nonnegative().default(0),
  mtimeMs: z.number().default(0),
  target: z.string().nullable().default(null),
});

export type SyncEntry = z.output<typeof syncEntrySchema>;

/** `POST /agent/sync/events`: entries whose content, if any, the bucket already holds. */
export const syncEventsSchema = z.object({
  configId: z.number().int().positive(),
  events: z.array(syncEntrySchema).max(10_000),
});

/**
 * `POST /agent/sync/scan`: every entry under the listed roots, without hashes. The coordinator
 * records paths it knew under those roots and that are gone as deleted, and returns the paths
 * whose size, mtime, mode or type differ from what it knows, for the agent to send.
 */
export const syncScanSchema = z.object({
  configId: z.number().int().positive(),
  roots: z.array(z.string().startsWith('/')),
  entries: z.array(syncEntrySchema.omit({ hash: true })).max(1_000_000),
});

/** `POST /agent/sync/applied`: a destination's result for one delivery. */
export const syncAppliedSchema = z.object({
  configId: z.number().int().positive(),
  sourcePath: z.string().min(1),
  version: z.number().int().positive(),
  error: z.string().max(4000).nullable().default(null),
  conflictPath: z.string().nullable().default(null),
});

/** `POST /agent/shares/:id/result`: where a shared file landed, or why it did not. */
export const shareResultSchema = z.object({
  storedPath: z.string().nullable().default(null),
  error: z.string().max(4000).nullable().default(null),
});
