import { z } from 'zod';

/** Where a content lives in the bucket: a whole object, or a byte range of a pack. */
export const blobLocationSchema = z.object({
  hash: z.string().regex(/^[0-9a-f]{64}$/),
  key: z.string().min(1),
  offset: z.number().int().nonnegative(),
  length: z.number().int().nonnegative(),
});

export type BlobLocation = z.output<typeof blobLocationSchema>;

/**
 * One entry of a snapshot manifest. `mtimeMs` is milliseconds since the epoch; `mode` holds the
 * permission bits only. Files carry their content's location so that the bucket alone restores.
 */
export const manifestEntrySchema = z.object({
  path: z.string().min(1),
  type: z.enum(['file', 'dir', 'symlink']),
  size: z.number().int().nonnegative(),
  mode: z.number().int().nonnegative(),
  mtimeMs: z.number(),
  hash: z.string().optional(),
  target: z.string().optional(),
  blob: blobLocationSchema.optional(),
});

export type ManifestEntry = z.output<typeof manifestEntrySchema>;

/** The first line of a manifest object; every following line is one ManifestEntry. */
export const manifestHeaderSchema = z.object({
  format: z.literal('syncctl-manifest-1'),
  snapshotId: z.number().int().positive(),
  companyId: z.number().int().positive(),
  configId: z.number().int().positive(),
  resourceId: z.number().int().positive(),
  parentSnapshotId: z.number().int().positive().nullable(),
  createdAt: z.string(),
  includePaths: z.array(z.string()),
  excludePaths: z.array(z.string()),
});

export type ManifestHeader = z.output<typeof manifestHeaderSchema>;

/** Bucket key of a snapshot's manifest. */
export function manifestKey(configId: number, resourceId: number, snapshotId: number): string {
  return `snapshots/config-${configId}/resource-${resourceId}/${snapshotId}.ndjson.gz`;
}

/** Bucket key of a whole content object, addressed by its SHA-256. */
export function objectKey(hash: string): string {
  return `objects/${hash.slice(0, 2)}/${hash}`;
}

/** Bucket key of a pack of small contents, addressed by the SHA-256 of the pack's bytes. */
export function packKey(hash: string): string {
  return `packs/${hash.slice(0, 2)}/${hash}`;
}

/** Returns the SHA-256 that a content-addressed key must hold, or null for other keys. */
export function expectedHashOfKey(key: string): string | null {
  const match = /^(?:objects|packs)\/[0-9a-f]{2}\/([0-9a-f]{64})$/.exec(key);
  return match ? match[1] : null;
}
