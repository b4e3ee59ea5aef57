import { beforeAll, describe, expect, test } from 'vitest';
import { expectApiSuccess } from '../helpers/api.ts';
import { addBackup, listSnapshots, waitForSnapshots, type BackupConfigView } from '../helpers/backup.ts';
import { deferCleanup } from '../helpers/cleanup.ts';
import {
  enrollAgent,
  registerCompany,
  registerResourceWithoutAgent,
  waitForResource,
  type Company,
  type EnrolledAgent,
} from '../helpers/company.ts';
import { startCoordinator, type Coordinator } from '../helpers/coordinator.ts';
import type { LogLine } from '../helpers/processes.ts';
import { makeTempDir } from '../helpers/temp.ts';
import { uniqueContent, writeTree } from '../helpers/tree.ts';
import { sleep, waitFor } from '../helpers/wait.ts';

// The coordinator logs "job armed" with the node-schedule job's name and group whenever it
// schedules a config for a resource (also to re-arm a job for its next fire time), and
// "schedule fired" with configId and resourceId when a job fires. Tests count those lines;
// cron schedules with a seconds field keep them fast.

let coordinator: Coordinator;
let alpha: Company;
let laptop: EnrolledAgent;
let intervalConfig: BackupConfigView;
let intervalCreatedAt: number;

beforeAll(async () => {
  coordinator = await startCoordinator();
  alpha = await registerCompany(coordinator, 'Alpha');
  laptop = await enrollAgent(alpha, 'laptop');

  // Created first so that its one-minute interval has mostly passed when its test runs.
  const source = await makeTempDir('interval-source');
  await writeTree(source, { 'minute.txt': uniqueContent(10) });
  intervalConfig = await addBackup(alpha, { name: 'every minute', paths: [source], resourceId: laptop.resourceId, every: '1m' });
  intervalCreatedAt = Date.parse(intervalConfig.createdAt);
});

const jobName = (configId: number) => `JobName_backupConfig_${configId}`;
const jobGroup = (resourceId: number) => `JobGroup_client:${alpha.companyId}_resource:${resourceId}`;

function firedLines(lines: LogLine[], configId: number, resourceId: number): LogLine[] {
  return lines.filter(
    (line) => line.msg === 'schedule fired' && String(line.configId) === String(configId) && String(line.resourceId) === String(resourceId),
  );
}

/**
 * Waits for `count` "schedule fired" lines logged after line `fromIndex` of the running
 * coordinator. With `onTimeOnly`, fires marked `catchUp` are left out: those make up at start
 * for a time that fell due while the coordinator was down, so they do not fall on the schedule.
 */
async function waitForFires(
  configId: number,
  resourceId: number,
  fromIndex: number,
  count: number,
  onTimeOnly = false,
): Promise<LogLine[]> {
  return waitFor(
    () => {
      const lines = firedLines(coordinator.logs.slice(fromIndex), configId, resourceId).filter(
        (line) => !onTimeOnly || line.catchUp !== true,
      );
      return lines.length >= count ? lines : undefined;
    },
    {
      what: `${count} "schedule fired" lines for config ${configId} on resource ${resourceId}`,
      timeoutMs: 20_000,
      context: () => coordinator.process.describe(),
    },
  );
}

/** Converts the time of each log line to its whole second in Unix time. */
function fireSeconds(lines: LogLine[]): number[] {
  return lines.map((line) => Math.floor(Date.parse(String(line.time)) / 1000));
}

async function addCronBackup(name: string, cron: string, resource: EnrolledAgent = laptop): Promise<BackupConfigView> {
  const source = await makeTempDir('cron-source');
  await writeTree(source, { [`${name}.txt`]: uniqueContent(20) });
  const config = await addBackup(alpha, { name, paths: [source], resourceId: resource.resourceId, cron });
  deferCleanup(() => alpha.cli(['backup', 'delete', String(config.id), '--company', String(alpha.companyId)]));
  return config;
}

/**
 * Selects the "job armed" lines of a config that the running coordinator logged while it rebuilt its
 * jobs from the database, before its "coordinator started" line. Later lines re-arm a job after
 * it fired, for its next fire time.
 */
function armedAtStart(configId: number): LogLine[] {
  const startedAt = coordinator.logs.findIndex((line) => line.msg === 'coordinator started');
  expect(startedAt, 'index of the "coordinator started" log line').toBeGreaterThanOrEqual(0);
  return coordinator.logs
    .slice(0, startedAt)
    .filter((line) => line.msg === 'job armed' && line.jobName === jobName(configId));
}

async function restartCoordinator(): Promise<void> {
  const connected = laptop.agent.process.logsWith('agent connected').length;
  await coordinator.restart();
  await laptop.agent.waitConnected(connected + 1);
}

describe('jobs', () => {
  test('new config arms one job for its resource', async () => {
    const lines = await coordinator.process.waitForLog('job armed', { jobName: jobName(intervalConfig.id) });

    expect(lines).toHaveLength(1);
    expect(lines[0].jobGroup).toBe(jobGroup(laptop.resourceId));
  });

  test('company-wide config arms a job per resource', async () => {
    const spareId = await registerResourceWithoutAgent(alpha, 'spare');
    const config = await addBackup(alpha, { name: 'company wide', paths: ['/srv/company'], every: '1d' });
    deferCleanup(() => alpha.cli(['backup', 'delete', String(config.id), '--company', String(alpha.companyId)]));

    const lines = await coordinator.process.waitForLog('job armed', { jobName: jobName(config.id) }, { count: 2 });

    expect(lines.map((line) => line.jobGroup).sort()).toEqual([jobGroup(laptop.resourceId), jobGroup(spareId)].sort());
  });

  test('cron schedule fires and backs up until deleted', async () => {
    const config = await addCronBackup('every-two-seconds', '*/2 * * * * *');
    await waitForSnapshots(alpha, config.id, laptop.resourceId, 1);

    await waitForFires(config.id, laptop.resourceId, 0, 1);
    await waitForSnapshots(alpha, config.id, laptop.resourceId, 2);
    const deleted = await alpha.cli(['backup', 'delete', String(config.id), '--company', String(alpha.companyId)]);
    expect(deleted.code, deleted.stderr).toBe(0);
    const firesAtDelete = firedLines(coordinator.logs, config.id, laptop.resourceId).length;
    // NOTE: proving that a job no longer fires needs a fixed window; 5 s covers two periods.
    await sleep(5000);

    expect(firedLines(coordinator.logs, config.id, laptop.resourceId)).toHaveLength(firesAtDelete);
  });

  test('schedule due while offline runs on reconnect', async () => {
    const nomad = await enrollAgent(alpha, 'nomad');
    const config = await addCronBackup('offline-due', '*/2 * * * * *', nomad);
    await waitForSnapshots(alpha, config.id, nomad.resourceId, 1);

    await nomad.agent.stop();
    await waitForResource(alpha, 'nomad', false, 10_000);
    const before = (await listSnapshots(alpha, config.id, nomad.resourceId)).length;
    await waitForFires(config.id, nomad.resourceId, coordinator.logs.length, 1);

    expect(await listSnapshots(alpha, config.id, nomad.resourceId)).toHaveLength(before);
    await nomad.agent.start();
    await waitForSnapshots(alpha, config.id, nomad.resourceId, before + 1);
  });

  test('interval schedule fires one interval after creation', async () => {
    const fired = await waitFor(
      () => {
        const processes = [...coordinator.earlierProcesses, coordinator.process];
        return processes.flatMap((process) => firedLines(process.logs, intervalConfig.id, laptop.resourceId))[0];
      },
      { what: `the one-minute schedule of config ${intervalConfig.id} to fire`, timeoutMs: Math.max(1000, intervalCreatedAt + 80_000 - Date.now()) },
    );

    const delayMs = Date.parse(String(fired.time)) - intervalCreatedAt;
    expect(delayMs).toBeGreaterThanOrEqual(59_000);
    expect(delayMs).toBeLessThan(70_000);
  }, 120_000);
});

describe('rebuild and edits', () => {
  test('edits and restarts keep one job', async () => {
    const config = await addCronBackup('edited', '0 3 * * *');
    const update = (...flags: string[]) =>
      alpha.cliJson(['backup', 'update', String(config.id), '--company', String(alpha.companyId), ...flags, '--json']);

    await update('--cron', '* * * * * *');
    await update('--every', '6h');
    const fromIndex = coordinator.logs.length;
    await update('--cron', '*/3 * * * * *');
    // A job left over from the every-second schedule would fire between the multiples of 3 s.
    const fires = fireSeconds(await waitForFires(config.id, laptop.resourceId, fromIndex, 3, true));

    expect(fires.filter((second) => second % 3 !== 0)).toEqual([]);
    expect(new Set(fires).size).toBe(fires.length);

    await restartCoordinator();
    await restartCoordinator();
    const armed = armedAtStart(config.id);
    const firesAfterRestart = fireSeconds(await waitForFires(config.id, laptop.resourceId, 0, 2, true));

    expect(armed).toHaveLength(1);
    expect(armed[0].jobGroup).toBe(jobGroup(laptop.resourceId));
    expect(firesAfterRestart.filter((second) => second % 3 !== 0)).toEqual([]);
    expect(new Set(firesAfterRestart).size).toBe(firesAfterRestart.length);
  }, 90_000);

  test('deleted and disabled configs are not rebuilt', async () => {
    const deleted = await addBackup(alpha, { name: 'deleted', paths: ['/srv/deleted'], resourceId: laptop.resourceId });
    const disabled = await addBackup(alpha, { name: 'disabled', paths: ['/srv/disabled'], resourceId: laptop.resourceId });
    const removal = await alpha.cli(['backup', 'delete', String(deleted.id), '--company', String(alpha.companyId)]);
    expect(removal.code, removal.stderr).toBe(0);
    const disabling = await alpha.api('PUT', `/companies/${alpha.companyId}/backup-configs/${disabled.id}`, { json: { enable: false } });
    expect(expectApiSuccess(disabling).enable).toBe(false);

    await restartCoordinator();

    expect(armedAtStart(intervalConfig.id)).toHaveLength(1);
    expect(armedAtStart(deleted.id)).toEqual([]);
    expect(armedAtStart(disabled.id)).toEqual([]);
    expect(coordinator.process.logsWith('job armed', { jobName: jobName(deleted.id) })).toEqual([]);
    expect(coordinator.process.logsWith('job armed', { jobName: jobName(disabled.id) })).toEqual([]);
  }, 60_000);
});
