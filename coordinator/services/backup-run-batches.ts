import type { RunTrigger } from '../../src/protocol/runs.ts';
import type { Db } from '../db/open-database.ts';
import { chunks, inInsertOrder, rowsPerStatement } from '../db/batches.ts';
import type { BackupConfigRow } from './backup-config-rows.ts';
import { insertActions, type StoredAction } from './outbox.ts';
import { queuedBackupRunRow } from './run-rows.ts';
import { nowIso } from './secrets.ts';
import type { ServiceDeps } from './service-deps.ts';

/** Columns of a runs row that an insert binds. */
const runInsertColumns = 17;

/**
 * Queues a backup run of `config` on each of `resourceIds` and stores its `backup` action, with
 * multi-row statements on `db` (usually an open transaction). It follows `requestBackupRun` in
 * backup-runs.ts, which does the same for one resource: a run already queued for the config and
 * resource absorbs the request and becomes full when `full` is set. Returns the stored actions
 * of the new runs, for `deliverActions` once the transaction has committed. Both build their rows
 * with `queuedBackupRunRow`.
 */
export async function queueBackupRuns(
  deps: ServiceDeps,
  db: Db,
  config: BackupConfigRow,
  resourceIds: readonly number[],
  trigger: RunTrigger,
  full: boolean,
): Promise<StoredAction[]> {
  if (resourceIds.length === 0) return [];
  const requested = new Set(resourceIds);
  const queued = await db
    .selectFrom('runs')
    .select(['id', 'resource_id', 'full'])
    .where('config_id', '=', config.id)
    .where('status', '=', 'queued')
    .where('kind', '=', 'backup')
    .orderBy('id')
    .execute();
  const absorbing = new Map<number, { id: number; full: number }>();
  for (const run of queued) {
    if (requested.has(run.resource_id) && !absorbing.has(run.resource_id)) absorbing.set(run.resource_id, run);
  }

  const madeFull = full ? [...absorbing.values()].filter((run) => run.full === 0).map((run) => run.id) : [];
  for (const ids of chunks(madeFull, rowsPerStatement(1) - 1)) {
    await db.updateTable('runs').set({ full: 1 }).where('id', 'in', ids).execute();
  }

  const now = nowIso();
  const newResourceIds = [...requested].filter((resourceId) => !absorbing.has(resourceId));
  const runIds: number[] = [];
  for (const batch of chunks(newResourceIds, rowsPerStatement(runInsertColumns))) {
    const rows = await db
      .insertInto('runs')
      .values(batch.map((resourceId) => queuedBackupRunRow(config, resourceId, trigger, full, now)))
      .returning(['id', 'resource_id'])
      .execute();
    for (const row of inInsertOrder(rows, batch, 'runs')) runIds.push(row.id);
  }

  const actions = await insertActions(
    db,
    newResourceIds.map((resourceId, index) => ({ resourceId, action: { kind: 'backup', runId: runIds[index], configId: config.id } })),
  );
  deps.logger.info(
    { configId: config.id, trigger, full, queuedRuns: runIds.length, firstRunId: runIds[0], lastRunId: runIds.at(-1), alreadyQueued: absorbing.size },
    'backup runs queued',
  );
  return actions;
}
