import { z } from 'zod';
import type { AgentBackupConfig } from './actions.ts';
import type { ManifestEntry } from './manifest.ts';

/** `GET /agent/configs`. */
export interface AgentConfigsResponse {
  resourceId: number;
  companyId: number;
  backupConfigs: AgentBackupConfig[];
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

/** `POST /agent/runs`: the agent asks for a full push of a config that has no snapshot yet. */
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
