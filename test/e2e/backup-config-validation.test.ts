import { beforeAll, beforeEach, afterEach, describe, expect, test } from 'vitest';
import { errorCodes } from '../../src/protocol/errors.ts';
import { expectApiError, expectApiSuccess } from '../helpers/api.ts';
import { addBackupArgs } from '../helpers/backup.ts';
import { registerCompany, registerResourceWithoutAgent, type Company } from '../helpers/company.ts';
import { startCoordinator, type Coordinator } from '../helpers/coordinator.ts';

let coordinator: Coordinator;
let alpha: Company;
let beta: Company;
let alphaResourceId: number;
let betaResourceId: number;

beforeAll(async () => {
  coordinator = await startCoordinator();
  alpha = await registerCompany(coordinator, 'Alpha');
  beta = await registerCompany(coordinator, 'Beta');
  alphaResourceId = await registerResourceWithoutAgent(alpha, 'alpha-server');
  betaResourceId = await registerResourceWithoutAgent(beta, 'beta-server');
});

const configsPath = () => `/companies/${alpha.companyId}/backup-configs`;

/** A valid config body for company Alpha; `change` edits a copy before it is sent. */
function validBody(change: (body: any) => void = () => {}): any {
  const body = {
    name: 'documents',
    enable: true,
    companyId: alpha.companyId,
    resourceId: null,
    scheduleDetails: { scheduleType: 'DAYS', scheduleInterval: 1 },
    pathDetails: { includePaths: ['/home/alex/Documents'], excludePaths: ['*.tmp'] },
  };
  change(body);
  return body;
}

/** The company's configs, sorted by id so that two lists compare equal whatever their order. */
async function storedConfigs(company: Company = alpha): Promise<Array<{ id: number }>> {
  const configs = expectApiSuccess(await company.api('GET', `/companies/${company.companyId}/backup-configs`));
  return [...configs].sort((a, b) => a.id - b.id);
}

/** The two ways a config is created: the REST route and the legacy `addConfig`. */
const createRoutes = [
  {
    route: 'REST',
    send: (body: unknown) => alpha.api('POST', configsPath(), { json: body }),
    sendMalformed: () => alpha.api('POST', configsPath(), { rawBody: '{"name": "documents", ' }),
  },
  {
    route: 'legacy',
    send: (body: unknown) => alpha.api('POST', '/backup/updateConfig', { json: { addConfig: body } }),
    sendMalformed: () => alpha.api('POST', '/backup/updateConfig', { rawBody: '{"addConfig": {"name": ' }),
  },
];

// Every test of this file ends by checking that the rejected requests stored nothing.
let configsBefore: Array<{ id: number }>;
beforeEach(async () => {
  configsBefore = await storedConfigs();
});
afterEach(async () => {
  expect(await storedConfigs(), 'configs after the rejected requests').toEqual(configsBefore);
});

describe.each(createRoutes)('$route create', ({ send, sendMalformed }) => {
  test.each([
    { case: 'relative include path', field: 'includePaths', value: '"docs/reports"', change: (b: any) => (b.pathDetails.includePaths = ['docs/reports']) },
    { case: 'empty include path', field: 'includePaths', value: '""', change: (b: any) => (b.pathDetails.includePaths = ['']) },
    { case: 'no include path', field: 'includePaths', value: '[]', change: (b: any) => (b.pathDetails.includePaths = []) },
    { case: 'second path relative', field: 'includePaths[1]', value: '"./music"', change: (b: any) => (b.pathDetails.includePaths = ['/srv', './music']) },
    { case: 'missing pathDetails', field: 'pathDetails', value: 'missing', change: (b: any) => delete b.pathDetails },
    { case: 'empty exclude glob', field: 'excludePaths', value: '""', change: (b: any) => (b.pathDetails.excludePaths = ['']) },
    { case: 'unknown schedule type', field: 'scheduleType', value: '"MONTHS"', change: (b: any) => (b.scheduleDetails.scheduleType = 'MONTHS') },
    { case: 'interval 0', field: 'scheduleInterval', value: '0', change: (b: any) => (b.scheduleDetails.scheduleInterval = 0) },
    { case: 'negative interval', field: 'scheduleInterval', value: '-3', change: (b: any) => (b.scheduleDetails.scheduleInterval = -3) },
    { case: 'fractional interval', field: 'scheduleInterval', value: '1.5', change: (b: any) => (b.scheduleDetails.scheduleInterval = 1.5) },
    { case: 'interval over ten years', field: 'scheduleInterval', value: '99999999', change: (b: any) => ((b.scheduleDetails.scheduleType = 'WEEKS'), (b.scheduleDetails.scheduleInterval = 99_999_999)) },
    { case: 'interval as text', field: 'scheduleInterval', value: '"1"', change: (b: any) => (b.scheduleDetails.scheduleInterval = '1') },
    { case: 'missing interval', field: 'scheduleInterval', value: 'missing', change: (b: any) => delete b.scheduleDetails.scheduleInterval },
    { case: 'cron without expression', field: 'cronExpression', value: 'missing', change: (b: any) => (b.scheduleDetails = { scheduleType: 'CRON' }) },
    { case: 'invalid cron expression', field: 'cronExpression', value: '"every day"', change: (b: any) => (b.scheduleDetails = { scheduleType: 'CRON', cronExpression: 'every day' }) },
    { case: 'empty name', field: 'name', value: '""', change: (b: any) => (b.name = '') },
    { case: 'enable as text', field: 'enable', value: '"yes"', change: (b: any) => (b.enable = 'yes') },
    { case: 'resource id as text', field: 'resourceId', value: '"laptop"', change: (b: any) => (b.resourceId = 'laptop') },
  ])('rejects $case', async ({ field, value, change }) => {
    const response = await send(validBody(change));

    const message = expectApiError(response, 400);
    expect(message).toContain(field);
    expect(message).toContain(value);
  });

  test('rejects malformed JSON', async () => {
    const response = await sendMalformed();

    expect(expectApiError(response, 400)).toMatch(/json/i);
  });

  test('rejects unknown resource', async () => {
    const response = await send(validBody((b) => (b.resourceId = 999999)));

    const message = expectApiError(response, 404);
    expect(message).toContain('resourceId');
    expect(message).toContain('999999');
  });

  test('rejects resource of another company', async () => {
    const response = await send(validBody((b) => (b.resourceId = betaResourceId)));

    // Each of these statuses denies the resource; a config must never reach another company's machine.
    expect([400, 403, 404], response.text).toContain(response.status);
    expect(response.body?.error?.message).toContain(String(betaResourceId));
    expect(await storedConfigs(beta)).toEqual([]);
  });
});

describe('REST create', () => {
  test('stores a valid config as sent', async () => {
    const body = validBody((b) => {
      b.resourceId = alphaResourceId;
      b.pathDetails.includePaths = ['/home/alex/Documents/', '/srv//shared'];
    });

    const created = expectApiSuccess(await alpha.api('POST', configsPath(), { json: body }));

    expect(created).toMatchObject({
      name: 'documents',
      enable: true,
      companyId: alpha.companyId,
      resourceId: alphaResourceId,
      scheduleDetails: { scheduleType: 'DAYS', scheduleInterval: 1 },
      pathDetails: { includePaths: ['/home/alex/Documents', '/srv/shared'], excludePaths: ['*.tmp'] },
      deleted: false,
    });
    expect(Number.isInteger(created.id)).toBe(true);
    expect(expectApiSuccess(await alpha.api('GET', `${configsPath()}/${created.id}`))).toEqual(created);
    configsBefore = [...configsBefore, created].sort((a, b) => a.id - b.id);
  });

  test('rejects a company id that differs from the path', async () => {
    const response = await alpha.api('POST', configsPath(), { json: validBody((b) => (b.companyId = beta.companyId)) });

    expect([400, 403], response.text).toContain(response.status);
    expect(await storedConfigs(beta)).toEqual([]);
  });

  test('rejects a body that is not an object', async () => {
    expectApiError(await alpha.api('POST', configsPath(), { json: [validBody()] }), 400);
    expectApiError(await alpha.api('POST', configsPath(), { json: 'documents' }), 400);
  });
});

describe('unknown config', () => {
  test('REST routes answer 404 naming the id', async () => {
    for (const method of ['GET', 'PUT', 'DELETE']) {
      const response = await alpha.api(method, `${configsPath()}/999999`, method === 'PUT' ? { json: { name: 'renamed' } } : {});
      expect(expectApiError(response, 404), method).toContain('999999');
    }
  });

  test('legacy update and delete answer 404 naming the id', async () => {
    const update = await alpha.api('POST', '/backup/updateConfig', { json: { updateConfig: { id: 999999, name: 'renamed' } } });
    const remove = await alpha.api('POST', '/backup/updateConfig', { json: { deleteConfig: { id: 999999 } } });

    expect(expectApiError(update, 404)).toContain('999999');
    expect(expectApiError(remove, 404)).toContain('999999');
  });

  test('non-numeric id is invalid', async () => {
    expect(expectApiError(await alpha.api('GET', `${configsPath()}/latest`), 400)).toContain('latest');
  });
});

describe('legacy body shape', () => {
  test.each([
    { case: 'an empty object', body: () => ({}) },
    { case: 'two operations', body: () => ({ addConfig: validBody(), deleteConfig: { id: 1 } }) },
    { case: 'an unknown operation', body: () => ({ removeConfig: { id: 1 } }) },
    { case: 'an array', body: () => [] },
  ])('rejects $case', async ({ body }) => {
    const response = await alpha.api('POST', '/backup/updateConfig', { json: body() });

    expect(expectApiError(response, 400)).toMatch(/addConfig|updateConfig|deleteConfig/);
  });
});

describe('invalid update', () => {
  let stored: any;
  beforeAll(async () => {
    stored = expectApiSuccess(await alpha.api('POST', configsPath(), { json: validBody((b) => (b.name = 'update target')) }));
  });

  test.each([
    { case: 'interval 0', field: 'scheduleInterval', value: '0', change: { scheduleDetails: { scheduleType: 'HOURS', scheduleInterval: 0 } } },
    { case: 'relative path', field: 'includePaths', value: '"docs"', change: { pathDetails: { includePaths: ['docs'] } } },
    { case: 'unknown schedule type', field: 'scheduleType', value: '"YEARS"', change: { scheduleDetails: { scheduleType: 'YEARS', scheduleInterval: 1 } } },
  ])('$case leaves the config unchanged', async ({ field, value, change }) => {
    const rest = await alpha.api('PUT', `${configsPath()}/${stored.id}`, { json: change });
    const legacy = await alpha.api('POST', '/backup/updateConfig', { json: { updateConfig: { id: stored.id, ...change } } });

    for (const response of [rest, legacy]) {
      const message = expectApiError(response, 400);
      expect(message).toContain(field);
      expect(message).toContain(value);
    }
    expect(expectApiSuccess(await alpha.api('GET', `${configsPath()}/${stored.id}`))).toEqual(stored);
  });

  test('unknown resource leaves the config unchanged', async () => {
    const rest = await alpha.api('PUT', `${configsPath()}/${stored.id}`, { json: { resourceId: 999999 } });
    const legacy = await alpha.api('POST', '/backup/updateConfig', { json: { updateConfig: { id: stored.id, resourceId: 999999 } } });

    expect(expectApiError(rest, 404)).toContain('999999');
    expect(expectApiError(legacy, 404)).toContain('999999');
    expect(expectApiSuccess(await alpha.api('GET', `${configsPath()}/${stored.id}`))).toEqual(stored);
  });
});

describe('CLI input', () => {
  const addArgs = (change: Partial<Parameters<typeof addBackupArgs>[1]>) =>
    addBackupArgs(alpha, { name: 'cli documents', paths: ['/home/alex/Documents'], ...change });

  test.each([
    { case: 'relative path', value: 'docs', args: () => addArgs({ paths: ['docs'] }) },
    { case: 'interval 0', value: '0m', args: () => addArgs({ every: '0m' }) },
    { case: 'unknown unit', value: '5x', args: () => addArgs({ every: '5x' }) },
    { case: 'invalid cron', value: 'every day', args: () => addArgs({ cron: 'every day' }) },
  ])('backup add rejects $case', async ({ value, args }) => {
    const result = await alpha.cli(args());

    expect(result.code, result.stderr).toBe(errorCodes.invalidInput.exit);
    expect(result.stderr).toContain(value);
    expect(result.stdout).toBe('');
  });

  test('backup add needs a schedule', async () => {
    const args = addArgs({}).filter((arg, index, all) => arg !== '--every' && all[index - 1] !== '--every');

    const result = await alpha.cli(args);

    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/--every|--cron/);
  });

  test('backup add rejects unknown resource', async () => {
    const result = await alpha.cli(addArgs({ resourceId: 999999 }));

    expect(result.code, result.stderr).toBe(errorCodes.notFound.exit);
    expect(result.stderr).toContain('999999');
  });

  test('backup show of unknown config is not found', async () => {
    const result = await alpha.cli(['backup', 'show', '999999', '--company', String(alpha.companyId), '--json']);

    expect(result.code).toBe(errorCodes.notFound.exit);
    expect(result.stderr).toContain('999999');
  });
});
