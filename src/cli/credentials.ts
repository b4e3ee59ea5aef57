import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { invalidInput } from '../protocol/errors.ts';
import { parseInput } from '../protocol/validation.ts';

const credentialsSchema = z.object({
  server: z.string().url(),
  token: z.string().min(1),
  userId: z.number().int().positive(),
  companyId: z.number().int().positive(),
  email: z.string(),
});

export type Credentials = z.output<typeof credentialsSchema>;

export function configDir(): string {
  return process.env.SYNCCTL_CONFIG_DIR ?? path.join(os.homedir(), '.config', 'syncctl');
}

function credentialsFile(): string {
  return path.join(configDir(), 'credentials.json');
}

/** Returns the saved session, or null when nobody is logged in. */
export async function loadCredentials(): Promise<Credentials | null> {
  let text: string;
  try {
    text = await fs.readFile(credentialsFile(), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw invalidInput(`Credentials file ${credentialsFile()} is not valid JSON; run "syncctl logout" and log in again`);
  }
  return parseInput(credentialsSchema, data, `credentials file ${credentialsFile()}`);
}

/** Saves the session token in a file only its owner can read (mode 0600). */
export async function saveCredentials(credentials: Credentials): Promise<string> {
  const file = credentialsFile();
  await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const temp = `${file}.${process.pid}.tmp`;
  await fs.writeFile(temp, `${JSON.stringify(credentials, null, 2)}\n`, { mode: 0o600 });
  await fs.rename(temp, file);
  return file;
}

export async function deleteCredentials(): Promise<boolean> {
  try {
    await fs.unlink(credentialsFile());
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}
