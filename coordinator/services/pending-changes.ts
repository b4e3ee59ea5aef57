import { sql } from 'kysely';
import { nowIso } from './secrets.ts';
import type { ServiceDeps } from './service-deps.ts';

export interface PendingChange {
  path: string;
  kind: string;
}

/**
 * Records paths to examine at the next run of a config on a resource. A path seen again moves
 * to a new sequence number, so a run clears only what it saw, never a change that came after.
 */
export async function recordPendingChanges(deps: ServiceDeps, configId: number, resourceId: number, changes: PendingChange[]): Promise<void> {
  if (changes.length === 0) return;
  const now = nowIso();
  await deps.db.transaction().execute(async (trx) => {
    for (let start = 0; start < changes.length; start += 500) {
      const batch = changes.slice(start, start + 500);
      await trx
        .deleteFrom('pending_changes')
        .where('config_id', '=', configId)
        .where('resource_id', '=', resourceId)
        .where('path', 'in', batch.map((change) => change.path))
        .execute();
      await trx
        .insertInto('pending_changes')
        .values(batch.map((change) => ({ config_id: configId, resource_id: resourceId, path: change.path, kind: change.kind, updated_at: now })))
        .onConflict((conflict) => conflict.columns(['config_id', 'resource_id', 'path']).doUpdateSet({ kind: sql`excluded.kind`, updated_at: now }))
        .execute();
    }
  });
}

/** The pending paths of a config on a resource and the highest sequence number among them. */
export async function pendingForRun(deps: ServiceDeps, configId: number, resourceId: number): Promise<{ paths: string[]; maxSeq: number }> {
  const rows = await deps.db
    .selectFrom('pending_changes')
    .select(['path', 'seq'])
    .where('config_id', '=', configId)
    .where('resource_id', '=', resourceId)
    .orderBy('seq')
    .execute();
  const maxSeq = rows.reduce((max, row) => Math.max(max, row.seq), 0);
  return { paths: rows.map((row) => row.path), maxSeq };
}

export async function countPendingChanges(deps: ServiceDeps, configId: number, resourceId: number): Promise<number> {
  const row = await deps.db
    .selectFrom('pending_changes')
    .select((eb) => eb.fn.countAll<number>().as('count'))
    .where('config_id', '=', configId)
    .where('resource_id', '=', resourceId)
    .executeTakeFirstOrThrow();
  return Number(row.count);
}

export async function clearPendingUpTo(deps: ServiceDeps, configId: number, resourceId: number, maxSeq: number): Promise<void> {
  await deps.db
    .deleteFrom('pending_changes')
    .where('config_id', '=', configId)
    .where('resource_id', '=', resourceId)
    .where('seq', '<=', maxSeq)
    .execute();
}

export async function clearPendingChanges(deps: ServiceDeps, configId: number, resourceId: number): Promise<void> {
  await deps.db.deleteFrom('pending_changes').where('config_id', '=', configId).where('resource_id', '=', resourceId).execute();
}
