import pino from 'pino';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { maxBoundParameters } from '../../coordinator/db/batches.ts';
import { openDatabase, type Db } from '../../coordinator/db/open-database.ts';
import { Relay } from '../../coordinator/relay/relay.ts';
import { BackupScheduler } from '../../coordinator/scheduler/backup-scheduler.ts';
import { createBackupConfig, deleteBackupConfig, updateBackupConfig } from '../../coordinator/services/backup-configs.ts';
import { registerCompany } from '../../coordinator/services/companies.ts';
import { RunWaiters } from '../../coordinator/services/run-waiters.ts';
import type { ServiceDeps } from '../../coordinator/services/service-deps.ts';
import { LocalStore, loadSigningKey } from '../../coordinator/store/local-store.ts';
import { makeTempDir } from '../helpers/temp.ts';

// The coordinator's services on a real SQLite file, with more resources than one statement can
// bind: a mapping row binds 2 values, so 17,000 resources need two mapping inserts. The
// update_config and delete_config actions (8 values per outbox row) need five inserts each, and
// the runs queued for new paths (17 values per row) need nine.
const resourceCount = 17_000;

let db: Db;
let deps: ServiceDeps;
let companyId: number;
let resourceIds: number[];

beforeAll(async () => {
  const dataDir = await makeTempDir('config-batches');
  db = await openDatabase(dataDir);
  const logger = pino({ level: 'silent' });
  const store = new LocalStore({ root: `${dataDir}/buckets`, publicUrl: () => 'http://127.0.0.1:9', signingKey: await loadSigningKey(dataDir) });
  deps = {
    db,
    store,
    logger,
    publicUrl: 'http://127.0.0.1:9',
    relay: new Relay(logger, 10_000),
    scheduler: new BackupScheduler(() => {}, logger),
    runWaiters: new RunWaiters(),
  };
  ({ companyId } = await registerCompany(deps, { name: 'Batches', email: 'batches@example.com', password: 'batches-password-1' }));

  const now = new Date().toISOString();
  const rows = Array.from({ length: resourceCount }, (_, index) => ({
    company_id: companyId,
    name: `machine-${index}`,
    hostname: null,
    platform: null,
    token_hash: `token-hash-${index}`,
    online: 0,
    last_seen_at: null,
    created_at: now,
  }));
  for (let start = 0; start < rows.length; start += 1000) {
    await db.insertInto('resources').values(rows.slice(start, start + 1000)).execute();
  }
  resourceIds = (await db.selectFrom('resources').select('id').where('company_id', '=', companyId).orderBy('id').execute()).map((row) => row.id);
}, 120_000);

afterAll(async () => {
  deps?.scheduler.shutdown();
  await db?.destroy();
});

async function outboxKinds(configId: number): Promise<Map<number, string[]>> {
  const rows = await db.selectFrom('outbox').select(['resource_id', 'kind', 'payload_json']).orderBy('id').execute();
  const kinds = new Map<number, string[]>();
  for (const row of rows) {
    const payload = JSON.parse(row.payload_json) as { configId?: number; config?: { id: number } };
    if ((payload.configId ?? payload.config?.id) !== configId) continue;
    kinds.set(row.resource_id, [...(kinds.get(row.resource_id) ?? []), row.kind]);
  }
  return kinds;
}

describe('company-wide config on 17,000 resources', () => {
  let configId: number;

  test('resources exceed one statement of mappings', () => {
    expect(resourceCount * 2).toBeGreaterThan(maxBoundParameters);
  });

  test('create stores rows per resource', async () => {
    const config = await createBackupConfig(deps, {
      companyId,
      resourceId: null,
      name: 'everywhere',
      enable: true,
      scheduleDetails: { scheduleType: 'DAYS', scheduleInterval: 1 },
      pathDetails: { includePaths: ['/srv/everywhere'], excludePaths: [] },
    });
    configId = config.id;

    const mappings = await db.selectFrom('resource_config_mappings').select('resource_id').where('config_id', '=', configId).orderBy('resource_id').execute();
    expect(mappings.map((row) => row.resource_id)).toEqual(resourceIds);

    const runs = await db.selectFrom('runs').select(['id', 'resource_id', 'status', 'trigger']).where('config_id', '=', configId).orderBy('resource_id').execute();
    expect(runs.map((run) => run.resource_id)).toEqual(resourceIds);
    expect(runs.every((run) => run.status === 'queued' && run.trigger === 'initial')).toBe(true);

    const kinds = await outboxKinds(configId);
    expect(kinds.size).toBe(resourceCount);
    expect([...kinds.values()].every((list) => list.join() === 'add_config,backup')).toBe(true);

    const jobs = deps.scheduler.armedJobs().filter((job) => job.configId === configId);
    expect(jobs).toHaveLength(resourceCount);
    expect(new Set(jobs.map((job) => job.nextFireAt)).size).toBe(1);
  }, 120_000);

  test('new paths queue runs again', async () => {
    await db.updateTable('runs').set({ status: 'completed' }).where('config_id', '=', configId).execute();

    await updateBackupConfig(deps, companyId, { id: configId, pathDetails: { includePaths: ['/srv/everywhere', '/srv/more'], excludePaths: [] } });

    const queued = await db
      .selectFrom('runs')
      .select(['resource_id', 'trigger', 'full'])
      .where('config_id', '=', configId)
      .where('status', '=', 'queued')
      .orderBy('resource_id')
      .execute();
    expect(queued.map((run) => run.resource_id)).toEqual(resourceIds);
    expect(queued.every((run) => run.trigger === 'paths_changed' && run.full === 0)).toBe(true);
    const kinds = await outboxKinds(configId);
    expect([...kinds.values()].every((list) => list.join() === 'add_config,backup,update_config,backup')).toBe(true);
  }, 120_000);

  test('delete reaches every resource', async () => {
    await deleteBackupConfig(deps, companyId, configId);

    const kinds = await outboxKinds(configId);
    expect(kinds.size).toBe(resourceCount);
    expect([...kinds.values()].every((list) => list.at(-1) === 'delete_config')).toBe(true);
    expect(deps.scheduler.armedJobs().filter((job) => job.configId === configId)).toEqual([]);
    const stillQueued = await db.selectFrom('runs').select('id').where('config_id', '=', configId).where('status', '=', 'queued').execute();
    expect(stillQueued).toEqual([]);
  }, 120_000);
});
