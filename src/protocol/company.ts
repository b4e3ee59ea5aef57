import { z } from 'zod';

const emailSchema = z
  .string({ error: 'must be a string' })
  .trim()
  .toLowerCase()
  .pipe(z.email({ error: 'must be an email address such as alex@example.com' }));

const passwordSchema = z
  .string({ error: 'must be a string' })
  .min(8, 'must be at least 8 characters')
  .max(1024, 'must be at most 1024 characters');

export const registerCompanySchema = z.object({
  name: z.string({ error: 'must be a string' }).trim().min(1, 'must not be empty').max(200, 'must be at most 200 characters'),
  email: emailSchema,
  password: passwordSchema,
});

export type RegisterCompanyInput = z.output<typeof registerCompanySchema>;

export interface RegisterCompanyResult {
  companyId: number;
  userId: number;
  bucket: string;
  installerKey: string;
}

export const loginSchema = z.object({
  email: emailSchema,
  password: z.string({ error: 'must be a string' }).min(1, 'must not be empty'),
});

export interface LoginResult {
  token: string;
  userId: number;
  companyId: number;
}

/** The agent installer: what an agent needs to enroll with its company's coordinator. */
export const installerSchema = z.object({
  companyId: z.number().int().positive(),
  coordinatorUrl: z.url({ error: 'must be the coordinator URL, such as http://127.0.0.1:8080' }),
  enrollmentSecret: z.string().min(16),
});

export type Installer = z.output<typeof installerSchema>;

/** The installer file name carries the company id: `syncctl-agent-company-19.json`. */
export function installerFileName(companyId: number): string {
  return `syncctl-agent-company-${companyId}.json`;
}

/** Reads the company id from an installer file name, or returns null if the name has none. */
export function companyIdFromInstallerName(fileName: string): number | null {
  const match = /syncctl-agent-company-(\d+)(?:\s*\(\d+\))?\.json$/.exec(fileName);
  return match ? Number(match[1]) : null;
}
