import type { Readable } from 'node:stream';
import { SyncctlError, invalidInput, notFound } from '../../src/protocol/errors.ts';
import { objectKey } from '../../src/protocol/manifest.ts';
import { recordBlobs, missingBlobs } from './blobs.ts';
import { getCompany } from './companies.ts';
import { enqueueAction } from './outbox.ts';
import { getCompanyResource, type ResourceRow } from './resources.ts';
import { nowIso } from './secrets.ts';
import type { ServiceDeps } from './service-deps.ts';

export interface ShareRequest {
  resourceId: number;
  fileName: string;
  hash: string;
  size: number;
  targetDir: string | null;
}

export interface ShareView {
  id: number;
  resourceId: number;
  fileName: string;
  size: number;
  status: 'queued' | 'delivered' | 'failed';
  storedPath: string | null;
  error: string | null;
  createdAt: string;
  finishedAt: string | null;
}

function toShareView(row: { id: number; resource_id: number; file_name: string; size: number; status: string; stored_path: string | null; error: string | null; created_at: string; finished_at: string | null }): ShareView {
  return {
    id: row.id,
    resourceId: row.resource_id,
    fileName: row.file_name,
    size: row.size,
    status: row.status as ShareView['status'],
    storedPath: row.stored_path,
    error: row.error,
    createdAt: row.created_at,
    finishedAt: row.finished_at,
  };
}

/** Stores a shared file's content (streamed, hash checked) and sends a download action to the resource. */
export async function shareFile(deps: ServiceDeps, companyId: number, request: ShareRequest, body: Readable): Promise<ShareView> {
  await getCompanyResource(deps, companyId, request.resourceId, 'resourceId');
  if (request.fileName.includes('/') || request.fileName === '.' || request.fileName === '..' || request.fileName.includes('\0')) {
    throw invalidInput(`Field "name" (value: ${JSON.stringify(request.fileName)}) must be a plain file name without "/"`);
  }
  const company = await getCompany(deps, companyId);
  const key = objectKey(request.hash);
  if ((await missingBlobs(deps, companyId, [request.hash])).length > 0) {
    const { size } = await deps.store.putObjectStream(company.bucket, key, body);
    await recordBlobs(deps, companyId, [{ hash: request.hash, key, offset: 0, length: size }]);
  } else {
    body.resume();
  }

  const row = await deps.db
    .insertInto('shares')
    .values({ company_id: companyId, resource_id: request.resourceId, file_name: request.fileName, hash: request.hash, size: request.size, target_dir: request.targetDir, status: 'queued', stored_path: null, error: null, created_at: nowIso(), finished_at: null })
    .returningAll()
    .executeTakeFirstOrThrow();
  await enqueueAction(deps, request.resourceId, {
    kind: 'download',
    share: { shareId: row.id, fileName: row.file_name, hash: row.hash, size: row.size, key, targetDir: row.target_dir },
  });
  deps.logger.info({ shareId: row.id, companyId, resourceId: request.resourceId, size: request.size }, 'file share queued');
  return toShareView(row);
}

export async function getShare(deps: ServiceDeps, companyId: number, shareId: number): Promise<ShareView> {
  const row = await deps.db.selectFrom('shares').selectAll().where('id', '=', shareId).executeTakeFirst();
  if (!row || row.company_id !== companyId) throw notFound(`Share ${shareId} not found in company ${companyId}`);
  return toShareView(row);
}

export async function recordShareResult(deps: ServiceDeps, resource: ResourceRow, shareId: number, storedPath: string | null, error: string | null): Promise<void> {
  const row = await deps.db.selectFrom('shares').selectAll().where('id', '=', shareId).executeTakeFirst();
  if (!row || row.resource_id !== resource.id) throw new SyncctlError('forbidden', `Share ${shareId} is not addressed to resource ${resource.id}`);
  const status = error === null ? 'delivered' : 'failed';
  await deps.db.updateTable('shares').set({ status, stored_path: storedPath, error, finished_at: nowIso() }).where('id', '=', shareId).execute();
  if (error === null) deps.logger.info({ shareId, resourceId: resource.id, storedPath }, 'file share delivered');
  else deps.logger.warn({ shareId, resourceId: resource.id, error }, 'file share failed');
}
