import fs from 'node:fs/promises';
import path from 'node:path';
import type { ShareDelivery } from '../../src/protocol/actions.ts';
import type { AgentContext } from '../agent-context.ts';
import { describeError } from '../fs-error-code.ts';
import { SafeTargetResolver } from '../transfer/safe-target.ts';
import { downloadWithUrl } from './download-file.ts';

/** Picks `name`, or `name (1)`, `name (2)`, ... when a file of that name exists in `folder`. */
async function freeName(folder: string, name: string): Promise<string> {
  const extension = path.extname(name);
  const stem = name.slice(0, name.length - extension.length);
  for (let index = 0; ; index += 1) {
    const candidate = index === 0 ? name : `${stem} (${index})${extension}`;
    const taken = await fs.lstat(path.join(folder, candidate)).then(() => true, () => false);
    if (!taken) return candidate;
  }
}

/**
 * Downloads a shared file into its folder (the agent's downloads folder by default), never over
 * an existing file, and reports where it landed.
 */
export async function receiveShare(context: AgentContext, share: ShareDelivery): Promise<void> {
  const folder = share.targetDir ?? path.join(context.stateDir, 'downloads');
  let storedPath: string | null = null;
  let error: string | null = null;
  try {
    // Kernel file systems are no place for a download, and mkdir below /proc can hang on Linux.
    if (['/proc', '/sys', '/dev'].some((system) => folder === system || folder.startsWith(`${system}/`))) {
      throw new Error(`Folder ${folder} is on a kernel file system; choose a folder for files`);
    }
    await fs.mkdir(folder, { recursive: true });
    const name = await freeName(folder, share.fileName);
    const resolved = await new SafeTargetResolver(folder).resolve(`/${name}`);
    if (!resolved.ok) throw new Error(`Rejected shared file name "${share.fileName}": ${resolved.reason}`);
    await downloadWithUrl(context, share.url, { key: share.key, hash: share.hash, target: resolved.path, mode: 0o644 });
    storedPath = resolved.path;
    context.logger.info({ shareId: share.shareId, storedPath, size: share.size }, 'shared file received');
  } catch (caught) {
    error = describeError(caught);
    context.logger.warn({ shareId: share.shareId, err: caught }, 'shared file not received');
  }
  await context.client.post(`/agent/shares/${share.shareId}/result`, { storedPath, error }, { idempotent: true });
}
