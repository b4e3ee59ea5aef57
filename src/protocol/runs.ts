import { z } from 'zod';
import { blobLocationSchema } from './manifest.ts';

export const runStatuses = ['queued', 'running', 'completed', 'completed_with_warnings', 'failed'] as const;
export type RunStatus = (typeof runStatuses)[number];

export const runTriggers = ['schedule', 'manual', 'initial', 'paths_changed', 'restore'] as const;
export type RunTrigger = (typeof runTriggers)[number];

export interface RunProgress {
  files: number;
  bytes: number;
  filesUploaded: number;
  bytesUploaded: number;
}

/** A backup or restore run as the API returns it. */
export interface RunView {
  id: number;
  kind: 'backup' | 'restore';
  companyId: number;
  configId: number;
  resourceId: number;
  status: RunStatus;
  trigger: RunTrigger;
  snapshotId: number | null;
  progress: RunProgress;
  warnings: string[];
  error: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}

export function isFinished(status: RunStatus): boolean {
  return status === 'completed' || status === 'completed_with_warnings' || status === 'failed';
}

/** A committed snapshot; its id is the id of the backup run that made it. */
export interface SnapshotView {
  id: number;
  configId: number;
  resourceId: number;
  createdAt: string;
  files: number;
  bytes: number;
}

export const runProgressSchema = z.object({
  files: z.number().int().nonnegative(),
  bytes: z.number().int().nonnegative(),
  filesUploaded: z.number().int().nonnegative(),
  bytesUploaded: z.number().int().nonnegative(),
});

export const commitRunSchema = runProgressSchema.extend({
  manifestKey: z.string().min(1),
  newBlobs: z.array(blobLocationSchema).default([]),
  warnings: z.array(z.string()).default([]),
});

export type CommitRunInput = z.output<typeof commitRunSchema>;

export const failRunSchema = z.object({
  message: z.string().min(1).max(4000),
});

export const restoreRequestSchema = z.object({
  configId: z.coerce.number().int().positive(),
  resourceId: z.coerce.number().int().positive(),
  snapshot: z.union([z.literal('latest'), z.coerce.number().int().positive()], {
    error: 'must be a snapshot id or "latest"',
  }).default('latest'),
  to: z.string().min(1, 'must not be empty').refine((value) => value.startsWith('/'), 'must be an absolute path on the restoring machine'),
  on: z.coerce.number().int().positive().optional(),
  path: z.string().refine((value) => value.startsWith('/'), 'must be an absolute path inside the snapshot').optional(),
});

export type RestoreRequest = z.output<typeof restoreRequestSchema>;

export const restoreCommitSchema = z.object({
  files: z.number().int().nonnegative(),
  bytes: z.number().int().nonnegative(),
  warnings: z.array(z.string()).default([]),
});
