import fs from 'node:fs/promises';
import path from 'node:path';
import { generateToken } from './services/secrets.ts';

/**
 * Returns the admin token: `SYNCCTL_ADMIN_TOKEN` when set, else the one in `DIR/admin-token`,
 * generated (mode 0600) on first start. `created` tells the caller to print it once.
 */
export async function loadAdminToken(dataDir: string, fromEnv: string | undefined): Promise<{ token: string; created: boolean; file: string | null }> {
  if (fromEnv && fromEnv.trim() !== '') return { token: fromEnv.trim(), created: false, file: null };

  const file = path.join(dataDir, 'admin-token');
  try {
    return { token: (await fs.readFile(file, 'utf8')).trim(), created: false, file };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const token = generateToken();
  await fs.writeFile(file, `${token}\n`, { mode: 0o600, flag: 'wx' });
  return { token, created: true, file };
}
