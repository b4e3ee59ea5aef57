import { beforeAll, describe, expect, test } from 'vitest';
import { expectApiSuccess } from '../helpers/api.ts';
import { addBackup, type BackupConfigView } from '../helpers/backup.ts';
import { registerCompany, registerResourceWithoutAgent, type Company } from '../helpers/company.ts';
import { startCoordinator } from '../helpers/coordinator.ts';

let alpha: Company;
let resourceId: number;

beforeAll(async () => {
  const coordinator = await startCoordinator();
  alpha = await registerCompany(coordinator, 'Alpha');
  resourceId = await registerResourceWithoutAgent(alpha, 'alpha-desktop');
});

const company = () => ['--company', String(alpha.companyId)];

async function restView(id: number): Promise<BackupConfigView> {
  return expectApiSuccess(await alpha.api('GET', `/companies/${alpha.companyId}/backup-configs/${id}`));
}

describe('backup add', () => {
  test.each([
    { every: '30m', scheduleDetails: { scheduleType: 'MINUTES', scheduleInterval: 30 } },
    { every: '6h', scheduleDetails: { scheduleType: 'HOURS', scheduleInterval: 6 } },
    { every: '1d', scheduleDetails: { scheduleType: 'DAYS', scheduleInterval: 1 } },
    { every: '1w', scheduleDetails: { scheduleType: 'WEEKS', scheduleInterval: 1 } },
  ])('--every $every sets the schedule', async ({ every, scheduleDetails }) => {
    const config = await addBackup(alpha, { name: `every ${every}`, paths: ['/srv/data'], every });

    expect(config.scheduleDetails).toEqual(scheduleDetails);
    expect(await restView(config.id)).toEqual(config);
  });

  test('--cron sets a cron schedule', async () => {
    const config = await addBackup(alpha, { name: 'nightly', paths: ['/srv/data'], cron: '0 3 * * *' });

    expect(config.scheduleDetails).toMatchObject({ scheduleType: 'CRON', cronExpression: '0 3 * * *' });
  });

  test('stores paths, excludes and resource', async () => {
    const config = await addBackup(alpha, {
      name: 'home',
      resourceId,
      paths: ['/home/alex/Documents/', '/home/alex/Pictures'],
      exclude: ['*.tmp', '/home/alex/**/cache'],
    });

    expect(config).toMatchObject({
      name: 'home',
      enable: true,
      companyId: alpha.companyId,
      resourceId,
      pathDetails: {
        includePaths: ['/home/alex/Documents', '/home/alex/Pictures'],
        excludePaths: ['*.tmp', '/home/alex/**/cache'],
      },
      deleted: false,
    });
  });

  test('without --resource applies to every resource', async () => {
    const config = await addBackup(alpha, { name: 'everywhere', paths: ['/etc'] });

    expect(config.resourceId).toBeNull();
  });
});

describe('backup list, show, update and delete', () => {
  test('list and show print the stored configs', async () => {
    const config = await addBackup(alpha, { name: 'listed', paths: ['/srv/listed'] });

    const listed = await alpha.cliJson<BackupConfigView[]>(['backup', 'list', ...company(), '--json']);
    const shown = await alpha.cliJson<BackupConfigView>(['backup', 'show', String(config.id), ...company(), '--json']);

    expect(listed.find((entry) => entry.id === config.id)).toEqual(config);
    expect(shown).toEqual(config);
  });

  test('company defaults to the session company', async () => {
    const config = await addBackup(alpha, { name: 'session company', paths: ['/srv/session'] });

    const listed = await alpha.cliJson<BackupConfigView[]>(['backup', 'list', '--json']);
    const shown = await alpha.cliJson<BackupConfigView>(['backup', 'show', String(config.id), '--json']);

    expect(listed.map((entry) => entry.id)).toContain(config.id);
    expect(shown).toEqual(config);
  });

  test('update changes the given fields only', async () => {
    const config = await addBackup(alpha, { name: 'to update', paths: ['/srv/before'], every: '1d' });

    const renamed = await alpha.cliJson<BackupConfigView>([
      'backup', 'update', String(config.id), ...company(), '--name', 'updated', '--every', '6h', '--json',
    ]);
    const moved = await alpha.cliJson<BackupConfigView>([
      'backup', 'update', String(config.id), ...company(), '--path', '/srv/after', '--exclude', '*.log', '--json',
    ]);
    const cron = await alpha.cliJson<BackupConfigView>([
      'backup', 'update', String(config.id), ...company(), '--cron', '*/15 * * * *', '--json',
    ]);

    expect(renamed).toMatchObject({
      name: 'updated',
      scheduleDetails: { scheduleType: 'HOURS', scheduleInterval: 6 },
      pathDetails: { includePaths: ['/srv/before'], excludePaths: [] },
    });
    expect(moved).toMatchObject({ name: 'updated', pathDetails: { includePaths: ['/srv/after'], excludePaths: ['*.log'] } });
    expect(moved.scheduleDetails).toEqual(renamed.scheduleDetails);
    expect(cron.scheduleDetails).toMatchObject({ scheduleType: 'CRON', cronExpression: '*/15 * * * *' });
    expect(await restView(config.id)).toEqual(cron);
  });

  test('delete marks the config deleted', async () => {
    const config = await addBackup(alpha, { name: 'to delete', paths: ['/srv/gone'] });

    const result = await alpha.cli(['backup', 'delete', String(config.id), ...company(), '--json']);

    expect(result.code, result.stderr).toBe(0);
    expect(await restView(config.id)).toMatchObject({ id: config.id, deleted: true });
  });
});
