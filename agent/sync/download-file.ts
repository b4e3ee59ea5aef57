import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { SyncctlError } from '../../src/protocol/errors.ts';
import type { SignedUrls } from '../../src/protocol/agent-api.ts';
import type { AgentContext } from '../agent-context.ts';
import { getStream, StoreRequestError } from '../transfer/store-http.ts';

export interface DownloadTarget {
  url: string;
  key: string;
  hash: string;
  /** Final path; the download goes to a temp file in the same folder and is renamed onto it. */
  target: string;
  mode?: number;
  mtimeMs?: number;
}

/** Prefix of the temp files a download writes beside its target; sync sources skip such names. */
export const downloadTempPrefix = '.syncctl-part-';

/**
 * Streams a signed URL into a temp file beside `target`, checks its SHA-256, sets mode and mtime,
 * and renames it into place, so a reader never sees a partial or unverified file.
 */
export async function downloadToFile(download: DownloadTarget): Promise<{ size: number }> {
  const temp = path.join(path.dirname(download.target), `${downloadTempPrefix}${randomBytes(6).toString('hex')}`);
  const hash = createHash('sha256');
  let size = 0;
  const hashing = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      size += chunk.length;
      callback(null, chunk);
    },
  });

  try {
    const body = await getStream(download.url, download.key);
    await pipeline(body, hashing, createWriteStream(temp, { mode: 0o600, flags: 'wx' }));
    const actual = hash.digest('hex');
    if (actual !== download.hash) {
      throw new SyncctlError('internal', `Downloaded "${download.key}" has SHA-256 ${actual}, expected ${download.hash}; nothing was written`);
    }
    if (download.mode !== undefined) await fs.chmod(temp, download.mode);
    if (download.mtimeMs !== undefined) await fs.utimes(temp, new Date(), new Date(download.mtimeMs));
    await fs.rename(temp, download.target);
    return { size };
  } catch (error) {
    await fs.rm(temp, { force: true });
    throw error;
  }
}

/**
 * Downloads with the URL the action carried, or, when it has none or the store rejects it (for
 * example because it expired), with a URL requested from the coordinator now.
 */
export async function downloadWithUrl(context: AgentContext, url: string | undefined, download: Omit<DownloadTarget, 'url'>): Promise<{ size: number }> {
  if (url !== undefined) {
    try {
      return await downloadToFile({ ...download, url });
    } catch (error) {
      if (!(error instanceof StoreRequestError && error.rejected)) throw error;
    }
  }
  const urls = await context.client.post<SignedUrls>('/agent/urls', { get: [download.key] }, { idempotent: true });
  return downloadToFile({ ...download, url: urls.get[download.key] });
}
