import { z } from 'zod';
import { pathDetailsSchema } from './backup-config.ts';
import { companyIdSchema, idSchema } from './ids.ts';
import { absolutePathSchema } from './paths.ts';
import { parseLegacyUpdate, type LegacyUpdate } from './legacy-update.ts';

/**
 * A destination of a sync config: a resource id, or `{resourceId, targetDir}` to map each include
 * path onto `targetDir` there instead of the same absolute path.
 */
export const syncDestinationSchema = z.union(
  [idSchema, z.object({ resourceId: idSchema, targetDir: absolutePathSchema.nullable().default(null) })],
  { error: 'must be a resource id or {resourceId, targetDir}' },
);

const destinationsSchema = z
  .array(syncDestinationSchema, { error: 'must be a list of resource ids' })
  .min(1, 'must name at least one destination resource');

const nameSchema = z.string({ error: 'must be a string' }).trim().min(1, 'must not be empty').max(200, 'must be at most 200 characters');

export const syncConfigInputSchema = z.object({
  name: nameSchema,
  enable: z.boolean({ error: 'must be true or false' }).default(true),
  companyId: companyIdSchema,
  resourceId: idSchema,
  pathDetails: pathDetailsSchema,
  destinationResources: destinationsSchema,
});

export type SyncConfigInput = z.output<typeof syncConfigInputSchema>;

export const syncConfigUpdateSchema = z.object({
  id: idSchema,
  name: nameSchema.optional(),
  enable: z.boolean({ error: 'must be true or false' }).optional(),
  companyId: companyIdSchema.optional(),
  resourceId: idSchema.optional(),
  pathDetails: pathDetailsSchema.optional(),
  destinationResources: destinationsSchema.optional(),
});

export type SyncConfigUpdate = z.output<typeof syncConfigUpdateSchema>;

export const syncConfigDeleteSchema = z.object({ id: idSchema, companyId: companyIdSchema.optional() });

export interface SyncDestination {
  resourceId: number;
  targetDir: string | null;
}

/** Turns the accepted destination shapes into `{resourceId, targetDir}`. */
export function normalizeDestinations(values: z.output<typeof destinationsSchema>): SyncDestination[] {
  return values.map((value) => (typeof value === 'number' ? { resourceId: value, targetDir: null } : value));
}

export interface SyncConfig {
  id: number;
  name: string;
  enable: boolean;
  companyId: number;
  resourceId: number;
  pathDetails: { includePaths: string[]; excludePaths: string[] };
  destinationResources: number[];
  destinations: SyncDestination[];
  deleted: boolean;
  createdAt: string;
  updatedAt: string;
}


const legacyOperations = {
  addConfig: syncConfigInputSchema,
  updateConfig: syncConfigUpdateSchema,
  deleteConfig: syncConfigDeleteSchema,
} as const;

export type LegacySyncUpdate = LegacyUpdate<typeof legacyOperations>;

/** Parses the legacy `updateConfig` body of this config kind. */
export function parseLegacySyncUpdate(body: unknown): LegacySyncUpdate {
  return parseLegacyUpdate(legacyOperations, body);
}
