import { beforeAll, describe, expect, test } from 'vitest';
import { api, expectApiError, expectApiSuccess, type ApiResponse } from '../helpers/api.ts';
import { registerCompany, registerResourceWithoutAgent, type Company } from '../helpers/company.ts';
import { startCoordinator, type Coordinator } from '../helpers/coordinator.ts';

let coordinator: Coordinator;
let alpha: Company;
let beta: Company;
let resourceId: number;

beforeAll(async () => {
  coordinator = await startCoordinator();
  alpha = await registerCompany(coordinator, 'Alpha');
  beta = await registerCompany(coordinator, 'Beta');
  resourceId = await registerResourceWithoutAgent(alpha, 'alpha-mac');
});

const configsPath = (company: Company = alpha) => `/companies/${company.companyId}/backup-configs`;

function legacy(body: unknown, company: Company = alpha): Promise<ApiResponse> {
  return company.api('POST', '/backup/updateConfig', { json: body });
}

/** The `addConfig` payload of the system syncctl replaces, as its clients send it: no excludePaths. */
function originalAddConfig(name: string, companyId = alpha.companyId) {
  return {
    name,
    enable: true,
    companyId,
    resourceId: null,
    scheduleDetails: { scheduleType: 'DAYS', scheduleInterval: 1 },
    pathDetails: { includePaths: ['/Users/alex/Documents/toBackup2'] },
  };
}

/** A stored config without the fields that differ between two configs made from one input. */
function comparable(config: Record<string, unknown>) {
  const { id: _id, name: _name, createdAt: _createdAt, updatedAt: _updatedAt, ...rest } = config;
  return rest;
}

describe('addConfig', () => {
  test('stores the original payload', async () => {
    const response = await legacy({ addConfig: originalAddConfig('client_level_backup_plan_toBackup_Folder') });

    const stored = expectApiSuccess(response);
    expect(stored).toMatchObject({
      name: 'client_level_backup_plan_toBackup_Folder',
      enable: true,
      companyId: alpha.companyId,
      resourceId: null,
      scheduleDetails: { scheduleType: 'DAYS', scheduleInterval: 1 },
      pathDetails: { includePaths: ['/Users/alex/Documents/toBackup2'], excludePaths: [] },
      deleted: false,
    });
    expect(expectApiSuccess(await alpha.api('GET', `${configsPath()}/${stored.id}`))).toEqual(stored);
  });

  test('answers like the REST create', async () => {
    const input = { ...originalAddConfig('twin'), resourceId, pathDetails: { includePaths: ['/srv/a'], excludePaths: ['**/.cache'] } };

    const viaLegacy = await legacy({ addConfig: { ...input, name: 'twin legacy' } });
    const viaRest = await alpha.api('POST', configsPath(), { json: { ...input, name: 'twin rest' } });

    expect(viaLegacy.status).toBe(viaRest.status);
    expect(comparable(expectApiSuccess(viaLegacy))).toEqual(comparable(expectApiSuccess(viaRest)));
    expect(viaLegacy.body.resourceId).toBe(resourceId);
  });

  test('works with the session cookie', async () => {
    const login = await api(coordinator.url, 'POST', '/auth/login', { json: { email: alpha.email, password: alpha.password } });
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0];

    const response = await api(coordinator.url, 'POST', '/backup/updateConfig', {
      cookie,
      json: { addConfig: originalAddConfig('by cookie') },
    });

    expect(expectApiSuccess(response).name).toBe('by cookie');
  });
});

describe('updateConfig', () => {
  test('changes only the given fields, like the REST update', async () => {
    const first = expectApiSuccess(await legacy({ addConfig: originalAddConfig('update legacy') }));
    const second = expectApiSuccess(await legacy({ addConfig: originalAddConfig('update rest') }));
    const change = { scheduleDetails: { scheduleType: 'HOURS', scheduleInterval: 6 } };

    const viaLegacy = await legacy({ updateConfig: { id: first.id, ...change } });
    const viaRest = await alpha.api('PUT', `${configsPath()}/${second.id}`, { json: change });

    expect(viaLegacy.status).toBe(viaRest.status);
    const updated = expectApiSuccess(viaLegacy);
    expect(updated).toEqual({ ...first, ...change, updatedAt: updated.updatedAt });
    expect(comparable(updated)).toEqual(comparable(expectApiSuccess(viaRest)));
    expect(expectApiSuccess(await alpha.api('GET', `${configsPath()}/${first.id}`))).toEqual(updated);
  });

  test('replaces paths and resource', async () => {
    const config = expectApiSuccess(await legacy({ addConfig: originalAddConfig('paths change') }));
    const pathDetails = { includePaths: ['/Users/alex/Pictures', '/Users/alex/Music'], excludePaths: ['*.tmp'] };

    const response = await legacy({ updateConfig: { id: config.id, companyId: alpha.companyId, resourceId, pathDetails } });

    expect(expectApiSuccess(response)).toMatchObject({ id: config.id, name: 'paths change', resourceId, pathDetails });
  });

  test('cron schedule is stored', async () => {
    const config = expectApiSuccess(await legacy({ addConfig: originalAddConfig('nightly') }));
    const scheduleDetails = { scheduleType: 'CRON', cronExpression: '0 3 * * *' };

    const response = await legacy({ updateConfig: { id: config.id, scheduleDetails } });

    expect(expectApiSuccess(response).scheduleDetails).toMatchObject(scheduleDetails);
  });
});

describe('deleteConfig', () => {
  test('answers like the REST delete', async () => {
    const first = expectApiSuccess(await legacy({ addConfig: originalAddConfig('delete legacy') }));
    const second = expectApiSuccess(await legacy({ addConfig: originalAddConfig('delete rest') }));

    const viaLegacy = await legacy({ deleteConfig: { id: first.id } });
    const viaRest = await alpha.api('DELETE', `${configsPath()}/${second.id}`);

    expect(viaLegacy.status).toBe(viaRest.status);
    expect(expectApiSuccess(viaLegacy)).toMatchObject({ id: first.id, deleted: true });
    expect(comparable(viaLegacy.body)).toEqual(comparable(viaRest.body));
    const afterLegacy = await alpha.api('GET', `${configsPath()}/${first.id}`);
    const afterRest = await alpha.api('GET', `${configsPath()}/${second.id}`);
    expect(afterLegacy.status).toBe(afterRest.status);
    const listed = expectApiSuccess(await alpha.api('GET', configsPath())).map((config: { id: number }) => config.id);
    expect(listed.includes(first.id)).toBe(listed.includes(second.id));
  });

  test('takes the company id too', async () => {
    const config = expectApiSuccess(await legacy({ addConfig: originalAddConfig('delete with company') }));

    const response = await legacy({ deleteConfig: { id: config.id, companyId: alpha.companyId } });

    expect(expectApiSuccess(response)).toMatchObject({ id: config.id, deleted: true });
  });
});

describe('access', () => {
  test('needs a session', async () => {
    const response = await api(coordinator.url, 'POST', '/backup/updateConfig', { json: { addConfig: originalAddConfig('anonymous') } });

    expectApiError(response, 401);
  });

  test('rejects another company', async () => {
    const betaConfig = expectApiSuccess(await legacy({ addConfig: originalAddConfig('beta own', beta.companyId) }, beta));

    const add = await legacy({ addConfig: originalAddConfig('planted', beta.companyId) });
    const update = await legacy({ updateConfig: { id: betaConfig.id, name: 'hijacked' } });
    const updateWithCompany = await legacy({ updateConfig: { id: betaConfig.id, companyId: alpha.companyId, name: 'hijacked' } });
    const remove = await legacy({ deleteConfig: { id: betaConfig.id } });

    expectApiError(add, 403);
    // The config id is another company's; either status denies it.
    for (const response of [update, updateWithCompany, remove]) {
      expect([403, 404], response.text).toContain(response.status);
    }
    expect(expectApiSuccess(await beta.api('GET', `${configsPath(beta)}/${betaConfig.id}`))).toEqual(betaConfig);
    const betaNames = expectApiSuccess(await beta.api('GET', configsPath(beta))).map((config: { name: string }) => config.name);
    expect(betaNames).toEqual(['beta own']);
  });
});
