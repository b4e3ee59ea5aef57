import { z } from 'zod';
import { absolutePathSchema } from './paths.ts';
import { companyIdSchema, nullableResourceIdSchema, idSchema } from './ids.ts';
import { cronExpressionSchema } from './cron.ts';
import { parseLegacyUpdate, type LegacyUpdate } from './legacy-update.ts';

export const scheduleTypes = ['MINUTES', 'HOURS', 'DAYS', 'WEEKS', 'CRON'] as const;
export type ScheduleType = (typeof scheduleTypes)[number];

/** Maximum schedule interval: 520 weeks, about ten years. */
const maxIntervalMinutes = 520 * 10_080;

/**
 * When a backup runs: every `scheduleInterval` units, or on a cron expression when `scheduleType`
 * is CRON. Interval schedules count from the config's creation time.
 */
export const scheduleDetailsSchema = z
  .object({
    scheduleType: z.enum(scheduleTypes, {
      error: 'must be one of MINUTES, HOURS, DAYS, WEEKS or CRON',
    }),
    scheduleInterval: z
      .number({ error: 'must be a whole number of at least 1' })
      .int('must be a whole number of at least 1')
      .min(1, 'must be at least 1')
      .optional(),
    cronExpression: cronExpressionSchema.optional(),
  })
  .superRefine((value, ctx) => {
    const unitMinutes = { MINUTES: 1, HOURS: 60, DAYS: 1440, WEEKS: 10_080, CRON: 0 }[value.scheduleType];
    if (value.scheduleInterval !== undefined && value.scheduleInterval * unitMinutes > maxIntervalMinutes) {
      const max = Math.floor(maxIntervalMinutes / unitMinutes);
      ctx.addIssue({ code: 'custom', path: ['scheduleInterval'], message: `must be at most ${max} for ${value.scheduleType} (about ten years)` });
    }
    if (value.scheduleType === 'CRON' && value.cronExpression === undefined) {
      ctx.addIssue({ code: 'custom', path: ['cronExpression'], message: 'is required when scheduleType is CRON' });
    }
    if (value.scheduleType !== 'CRON' && value.scheduleInterval === undefined) {
      ctx.addIssue({ code: 'custom', path: ['scheduleInterval'], message: 'is required; give a whole number of at least 1' });
    }
  });

export type ScheduleDetails = z.output<typeof scheduleDetailsSchema>;

const globSchema = z
  .string()
  .min(1, 'must not be empty; give a glob pattern such as "*.tmp" or "/home/alex/**/cache"');

export const pathDetailsSchema = z.object({
  includePaths: z
    .array(absolutePathSchema, { error: 'must be a list of absolute paths' })
    .min(1, 'must name at least one absolute path'),
  excludePaths: z.array(globSchema, { error: 'must be a list of glob patterns' }).default([]),
});

export type PathDetails = z.output<typeof pathDetailsSchema>;

const nameSchema = z
  .string({ error: 'must be a string' })
  .trim()
  .min(1, 'must not be empty')
  .max(200, 'must be at most 200 characters');

/** A new backup config, as `addConfig` of the legacy route and the body of the REST create route. */
export const backupConfigInputSchema = z.object({
  name: nameSchema,
  enable: z.boolean({ error: 'must be true or false' }).default(true),
  companyId: companyIdSchema,
  resourceId: nullableResourceIdSchema.default(null),
  scheduleDetails: scheduleDetailsSchema,
  pathDetails: pathDetailsSchema,
});

export type BackupConfigInput = z.output<typeof backupConfigInputSchema>;

/** A change to a backup config: `id` plus any fields to replace. */
export const backupConfigUpdateSchema = z.object({
  id: idSchema,
  name: nameSchema.optional(),
  enable: z.boolean({ error: 'must be true or false' }).optional(),
  companyId: companyIdSchema.optional(),
  resourceId: nullableResourceIdSchema.optional(),
  scheduleDetails: scheduleDetailsSchema.optional(),
  pathDetails: pathDetailsSchema.optional(),
});

export type BackupConfigUpdate = z.output<typeof backupConfigUpdateSchema>;

export const backupConfigDeleteSchema = z.object({ id: idSchema, companyId: companyIdSchema.optional() });

const legacyOperations = {
  addConfig: backupConfigInputSchema,
  updateConfig: backupConfigUpdateSchema,
  deleteConfig: backupConfigDeleteSchema,
} as const;

export type LegacyBackupUpdate = LegacyUpdate<typeof legacyOperations>;

/** Parses the legacy `updateConfig` body of this config kind. */
export function parseLegacyBackupUpdate(body: unknown): LegacyBackupUpdate {
  return parseLegacyUpdate(legacyOperations, body);
}

/** A stored backup config as the API returns it. */
export interface BackupConfig {
  id: number;
  name: string;
  enable: boolean;
  companyId: number;
  resourceId: number | null;
  scheduleDetails: ScheduleDetails;
  pathDetails: PathDetails;
  deleted: boolean;
  createdAt: string;
  updatedAt: string;
}
