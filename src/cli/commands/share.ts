import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { SyncctlError, invalidInput } from '../../protocol/errors.ts';
import { parsePositiveInt, resolveCompanyId, resolveContext, type GlobalOptions } from '../context.ts';
import { printResult } from '../output.ts';

export interface ShareOptions {
  company?: string;
  resource: string;
  to?: string;
  wait?: boolean;
}

interface ShareView {
  id: number;
  resourceId: number;
  status: 'queued' | 'delivered' | 'failed';
  storedPath: string | null;
  error: string | null;
}

async function hashFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(file), hash);
  return hash.digest('hex');
}

/** Uploads a local file (streamed) and has the agent of a resource download it. */
export async function share(file: string, options: ShareOptions, globals: GlobalOptions): Promise<void> {
  const context = await resolveContext(globals);
  const companyId = resolveCompanyId(context, options.company);
  const resourceId = parsePositiveInt(options.resource, '--resource');
  if (options.to !== undefined && !options.to.startsWith('/')) {
    throw invalidInput(`Invalid --to "${options.to}": give an absolute folder on the resource`);
  }
  const stat = await fs.stat(file).catch(() => null);
  if (!stat?.isFile()) throw invalidInput(`File "${file}" not found or not a regular file`);

  const hash = await hashFile(file);
  const query = new URLSearchParams({ resourceId: String(resourceId), name: path.basename(file), hash, size: String(stat.size) });
  if (options.to) query.set('to', options.to);
  const response = await context.client.uploadFile(`/companies/${companyId}/shares?${query}`, file, stat.size);
  let shared = await context.client.parse<ShareView>(response, 'POST /shares');

  if (options.wait) {
    while (shared.status === 'queued') {
      await new Promise((resolve) => setTimeout(resolve, 200));
      shared = await context.client.request<ShareView>('GET', `/companies/${companyId}/shares/${shared.id}`);
    }
    if (shared.status === 'failed') throw new SyncctlError('internal', `Share ${shared.id} failed on resource ${resourceId}: ${shared.error}`);
  }
  const result = { shareId: shared.id, status: shared.status, path: shared.storedPath };
  printResult(context.json, result, () => (shared.storedPath ? `Delivered to resource ${resourceId} at ${shared.storedPath}` : `Share ${shared.id} queued for resource ${resourceId}.`));
}
