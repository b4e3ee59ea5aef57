import { notFound } from '../../src/protocol/errors.ts';
import type { SnapshotView } from '../../src/protocol/runs.ts';
import type { ServiceDeps } from './service-deps.ts';
import { getCompanyConfigRow } from './backup-configs.ts';

export async function listSnapshots(deps: ServiceDeps, companyId: number, configId: number, resourceId?: number): Promise<SnapshotView[]> {
  await getCompanyConfigRow(deps, companyId, configId);
  let query = deps.db.selectFrom('snapshots').selectAll().where('config_id', '=', configId);
  if (resourceId !== undefined) query = query.where('resource_id', '=', resourceId);
  const rows = await query.orderBy('id').execute();
  return rows.map((row) => ({
    id: row.id,
    configId: row.config_id,
    resourceId: row.resource_id,
    createdAt: row.created_at,
    files: row.files,
    bytes: row.bytes,
  }));
}

/** Resolves a snapshot id or "latest" for a config on a resource. */
export async function resolveSnapshot(deps: ServiceDeps, configId: number, resourceId: number, snapshot: number | 'latest') {
  let query = deps.db.selectFrom('snapshots').selectAll().where('config_id', '=', configId).where('resource_id', '=', resourceId);
  query = snapshot === 'latest' ? query.orderBy('id', 'desc').limit(1) : query.where('id', '=', snapshot);
  const row = await query.executeTakeFirst();
  if (!row) {
    const which = snapshot === 'latest' ? 'No snapshot' : `Snapshot ${snapshot} not found`;
    throw notFound(`${which} for backup config ${configId} on resource ${resourceId}; list them with "syncctl backup snapshots ${configId}"`);
  }
  return row;
}
