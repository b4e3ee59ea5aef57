import { z } from 'zod';
import { companyIdSchema } from './ids.ts';

export const registerResourceSchema = z.object({
  companyId: companyIdSchema,
  enrollmentSecret: z.string({ error: 'must be the secret from the agent installer' }).min(1, 'must not be empty'),
  name: z.string().trim().min(1, 'must not be empty').max(200, 'must be at most 200 characters'),
  hostname: z.string().max(255).optional(),
  platform: z.string().max(64).optional(),
});

export type RegisterResourceInput = z.output<typeof registerResourceSchema>;

export interface RegisterResourceResult {
  resourceId: number;
  token: string;
}

/** A machine that runs the agent, as `resource list` shows it. */
export interface ResourceView {
  id: number;
  companyId: number;
  name: string;
  hostname: string | null;
  online: boolean;
  lastSeenAt: string | null;
  createdAt: string;
}
