import { copyFile, readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { installerFileName } from '../../src/protocol/company.ts';
import { errorCodes } from '../../src/protocol/errors.ts';
import { Agent } from '../helpers/agent.ts';
import { api, expectApiError, expectApiSuccess } from '../helpers/api.ts';
import { runCli } from '../helpers/cli.ts';
import {
  downloadInstaller,
  listResources,
  readInstaller,
  registerCompany,
  runAsAdmin,
  waitForResource,
  type Company,
} from '../helpers/company.ts';
import { startCoordinator, type Coordinator } from '../helpers/coordinator.ts';
import { makeTempDir } from '../helpers/temp.ts';

let coordinator: Coordinator;
let alpha: Company;
let beta: Company;

beforeAll(async () => {
  coordinator = await startCoordinator();
  alpha = await registerCompany(coordinator, 'Alpha');
  beta = await registerCompany(coordinator, 'Beta');
});

/** A valid backup config body for `company`. */
function configBody(company: Company, name: string) {
  return {
    name,
    enable: true,
    companyId: company.companyId,
    resourceId: null,
    scheduleDetails: { scheduleType: 'DAYS', scheduleInterval: 1 },
    pathDetails: { includePaths: ['/srv/data'], excludePaths: [] },
  };
}

/** Logs in through the REST API and returns the HTTP status. */
async function loginStatus(email: string, password: string): Promise<number> {
  return (await api(coordinator.url, 'POST', '/auth/login', { json: { email, password } })).status;
}

/** Every regular file under `dir`, recursively. */
async function filesUnder(dir: string): Promise<string[]> {
  const files: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) files.push(path.join(entry.parentPath, entry.name));
  }
  return files;
}

describe('company registration', () => {
  test('register prints the new ids', async () => {
    const result = await runAsAdmin(coordinator, [
      'company', 'register', '--name', 'Gamma Ltd', '--email', 'owner@gamma.example.com',
      '--password', 'correct horse battery', '--json',
    ]);

    expect(result.code, result.stderr).toBe(0);
    const registered = JSON.parse(result.stdout);
    expect(Number.isInteger(registered.companyId)).toBe(true);
    expect(registered.companyId).toBeGreaterThan(0);
    expect(registered.companyId).not.toBe(alpha.companyId);
    expect(Number.isInteger(registered.userId)).toBe(true);
    expect(typeof registered.bucket).toBe('string');
    expect(registered.bucket.length).toBeGreaterThan(0);
    expect(registered.bucket).not.toBe(alpha.bucket);
    expect(await loginStatus('owner@gamma.example.com', 'correct horse battery')).toBe(200);
  });

  test('register without admin token is rejected', async () => {
    const body = { name: 'Intruder', email: 'intruder@example.com', password: 'intruder-password' };

    const none = await api(coordinator.url, 'POST', '/admin/registerCompany', { json: body });
    const wrong = await api(coordinator.url, 'POST', '/admin/registerCompany', { json: body, token: 'not-the-admin-token' });
    const userSession = await api(coordinator.url, 'POST', '/admin/registerCompany', { json: body, token: alpha.token });
    const configDir = await makeTempDir('cli-no-token');
    const cli = await runCli(
      ['company', 'register', '--name', body.name, '--email', body.email, '--password', body.password, '--json'],
      { configDir, server: coordinator.url },
    );

    expectApiError(none, 401);
    expectApiError(wrong, 401);
    // A user's session is valid, just not an admin's: either status rejects it.
    expect([401, 403]).toContain(userSession.status);
    expect(cli.code).not.toBe(0);
    expect(cli.stderr).toMatch(/admin[- ]token|SYNCCTL_ADMIN_TOKEN/i);
    expect(await loginStatus(body.email, body.password)).toBe(401);
  });

  test.each([
    { field: 'email', value: 'not-an-email', body: { name: 'Bad Email', email: 'not-an-email', password: 'long enough password' } },
    // A password is never echoed, since error messages reach logs.
    { field: 'password', value: '[redacted]', body: { name: 'Short Password', email: 'short@example.com', password: 'short' } },
    { field: 'name', value: '""', body: { name: '', email: 'noname@example.com', password: 'long enough password' } },
  ])('register rejects invalid $field', async ({ field, value, body }) => {
    const response = await api(coordinator.url, 'POST', '/admin/registerCompany', { json: body, token: coordinator.adminToken });

    const message = expectApiError(response, 400);
    expect(message).toContain(field);
    expect(message).toContain(value);
    if (field === 'password') expect(message).not.toContain(body.password);
    // No user was stored: login fails, with 400 where the email itself is invalid.
    expect(await loginStatus(body.email, body.password)).not.toBe(200);
  });

  test('register rejects malformed JSON', async () => {
    const response = await api(coordinator.url, 'POST', '/admin/registerCompany', {
      rawBody: '{"name": "Broken", "email": ',
      token: coordinator.adminToken,
    });

    expect(expectApiError(response, 400)).toMatch(/json/i);
  });

  test('register rejects an email already in use', async () => {
    const response = await api(coordinator.url, 'POST', '/admin/registerCompany', {
      json: { name: 'Copycat', email: alpha.email, password: 'another long password' },
      token: coordinator.adminToken,
    });

    expect(expectApiError(response, 409)).toContain(alpha.email);
    expect(await loginStatus(alpha.email, 'another long password')).toBe(401);
    expect(await loginStatus(alpha.email, alpha.password)).toBe(200);
  });
});

describe('sessions', () => {
  test('login sets a cookie and returns a bearer token', async () => {
    const response = await api(coordinator.url, 'POST', '/auth/login', { json: { email: alpha.email, password: alpha.password } });

    const { token } = expectApiSuccess(response);
    expect(typeof token).toBe('string');
    expect(token.length).toBeGreaterThanOrEqual(16);
    const setCookie = response.headers.get('set-cookie') ?? '';
    expect(setCookie).toMatch(/^syncctl_session=[^;]+/);
    expect(setCookie).toMatch(/;\s*HttpOnly/i);

    const cookie = setCookie.split(';')[0];
    const byCookie = await api(coordinator.url, 'GET', `/companies/${alpha.companyId}/resources`, { cookie });
    const byBearer = await api(coordinator.url, 'GET', `/companies/${alpha.companyId}/resources`, { token });
    expect(Array.isArray(expectApiSuccess(byCookie))).toBe(true);
    expect(Array.isArray(expectApiSuccess(byBearer))).toBe(true);
  });

  test('login rejects a wrong password', async () => {
    const wrongPassword = await api(coordinator.url, 'POST', '/auth/login', { json: { email: alpha.email, password: 'wrong password' } });
    const unknownUser = await api(coordinator.url, 'POST', '/auth/login', { json: { email: 'nobody@example.com', password: 'wrong password' } });

    expectApiError(wrongPassword, 401);
    expectApiError(unknownUser, 401);
    expect(wrongPassword.headers.get('set-cookie')).toBeNull();
  });

  test('repeated wrong passwords lock the login', async () => {
    const target = await registerCompany(coordinator, 'Guessed');
    for (let attempt = 0; attempt < 5; attempt += 1) {
      const guess = await api(coordinator.url, 'POST', '/auth/login', { json: { email: target.email, password: `guess ${attempt}` } });
      expectApiError(guess, 401);
    }

    const correct = await api(coordinator.url, 'POST', '/auth/login', { json: { email: target.email, password: target.password } });

    expect(expectApiError(correct, 429)).toMatch(/Too many failed logins/);
  });

  test('company routes need a session', async () => {
    const companyPath = `/companies/${alpha.companyId}`;
    const requests = [
      { method: 'GET', path: `${companyPath}/resources` },
      { method: 'GET', path: `${companyPath}/backup-configs` },
      { method: 'POST', path: `${companyPath}/backup-configs`, json: configBody(alpha, 'no session') },
      { method: 'POST', path: '/backup/updateConfig', json: { addConfig: configBody(alpha, 'no session') } },
    ];

    for (const request of requests) {
      const anonymous = await api(coordinator.url, request.method, request.path, { json: request.json });
      const badToken = await api(coordinator.url, request.method, request.path, { json: request.json, token: 'forged-token' });
      const badCookie = await api(coordinator.url, request.method, request.path, { json: request.json, cookie: 'syncctl_session=forged' });
      expectApiError(anonymous, 401);
      expectApiError(badToken, 401);
      expectApiError(badCookie, 401);
    }
    const stored = await alpha.api('GET', `${companyPath}/backup-configs`);
    expect(expectApiSuccess(stored).filter((config: { name: string }) => config.name === 'no session')).toEqual([]);
  });

  test('another company is forbidden', async () => {
    const betaConfig = expectApiSuccess(
      await beta.api('POST', `/companies/${beta.companyId}/backup-configs`, { json: configBody(beta, 'beta only') }),
    );
    const betaPath = `/companies/${beta.companyId}`;

    expectApiError(await alpha.api('GET', `${betaPath}/resources`), 403);
    expectApiError(await alpha.api('GET', `${betaPath}/backup-configs`), 403);
    expectApiError(await alpha.api('POST', `${betaPath}/backup-configs`, { json: configBody(beta, 'planted') }), 403);
    expectApiError(await alpha.api('GET', `${betaPath}/backup-configs/${betaConfig.id}`), 403);
    expectApiError(await alpha.api('PUT', `${betaPath}/backup-configs/${betaConfig.id}`, { json: { name: 'hijacked' } }), 403);
    expectApiError(await alpha.api('DELETE', `${betaPath}/backup-configs/${betaConfig.id}`), 403);
    expectApiError(await alpha.api('POST', '/backup/updateConfig', { json: { addConfig: configBody(beta, 'planted') } }), 403);

    const after = await beta.api('GET', `${betaPath}/backup-configs/${betaConfig.id}`);
    expect(expectApiSuccess(after)).toEqual(betaConfig);
    const betaList = expectApiSuccess(await beta.api('GET', `${betaPath}/backup-configs`));
    expect(betaList.map((config: { name: string }) => config.name)).not.toContain('planted');
  });

  test('another company is forbidden from the CLI', async () => {
    const resources = await alpha.cli(['resource', 'list', '--company', String(beta.companyId), '--json']);
    const outDir = await makeTempDir('stolen-installer');
    const installer = await alpha.cli(['company', 'installer', '--company', String(beta.companyId), '--out', outDir, '--json']);

    expect(resources.code).toBe(errorCodes.forbidden.exit);
    expect(resources.stderr).toContain(String(beta.companyId));
    expect(installer.code).toBe(errorCodes.forbidden.exit);
    expect(await readdir(outDir)).toEqual([]);
  });

  test('login session is saved with mode 0600', async () => {
    const files = await filesUnder(alpha.configDir);

    expect(files.length).toBeGreaterThan(0);
    for (const file of files) {
      expect((await stat(file)).mode & 0o777, file).toBe(0o600);
    }
  });

  test('logout ends the session', async () => {
    const company = await registerCompany(coordinator, 'Leaving');
    const sessionFile = (await filesUnder(company.configDir)).map((file) => readFile(file, 'utf8'));
    const savedText = (await Promise.all(sessionFile)).join('\n');
    const candidates = [...savedText.matchAll(/"([A-Za-z0-9._~+/=-]{16,})"/g)].map((match) => match[1]);
    const resourcesPath = `/companies/${company.companyId}/resources`;
    const working: string[] = [];
    for (const candidate of candidates) {
      if ((await api(coordinator.url, 'GET', resourcesPath, { token: candidate })).status === 200) working.push(candidate);
    }
    expect(working.length, 'a saved string that works as the session token').toBeGreaterThan(0);

    const logout = await company.cli(['logout']);
    const afterLogout = await company.cli(['resource', 'list', '--company', String(company.companyId), '--json']);

    expect(logout.code, logout.stderr).toBe(0);
    expect(afterLogout.code).toBe(errorCodes.unauthenticated.exit);
    for (const token of working) {
      expectApiError(await api(coordinator.url, 'GET', resourcesPath, { token }), 401);
    }
  });
});

describe('admin token', () => {
  test('generated token is kept private and reused', async () => {
    const own = await startCoordinator({ adminToken: null });
    const tokenPath = path.join(own.dataDir, 'admin-token');
    const firstToken = (await readFile(tokenPath, 'utf8')).trim();
    const firstOutput = own.logs.map((line) => line.text).join('\n') + own.process.stderr;

    expect(firstToken.length).toBeGreaterThanOrEqual(16);
    expect((await stat(tokenPath)).mode & 0o777).toBe(0o600);
    expect(firstOutput).toContain(firstToken);
    const registered = await api(own.url, 'POST', '/admin/registerCompany', {
      json: { name: 'Own', email: 'own@example.com', password: 'own long password' },
      token: firstToken,
    });
    expectApiSuccess(registered);

    await own.restart();
    const secondOutput = own.logs.map((line) => line.text).join('\n') + own.process.stderr;

    expect((await readFile(tokenPath, 'utf8')).trim()).toBe(firstToken);
    expect(secondOutput).not.toContain(firstToken);
    expect(await api(own.url, 'GET', '/healthz').then((response) => response.status)).toBe(200);
    const exit = await own.process.stop();
    expect(exit).toEqual({ code: 0, signal: null });
  });
});

describe('installer and enrollment', () => {
  test('installer file is named after the company', async () => {
    const installerPath = await downloadInstaller(alpha);

    expect(path.basename(installerPath)).toBe(installerFileName(alpha.companyId));
    const installer = await readInstaller(installerPath);
    expect(installer.companyId).toBe(alpha.companyId);
    expect(new URL(installer.coordinatorUrl).origin).toBe(new URL(coordinator.url).origin);
    expect(installer.enrollmentSecret).not.toBe((await readInstaller(await downloadInstaller(beta))).enrollmentSecret);
  });

  test('admin token downloads any installer', async () => {
    const outDir = await makeTempDir('admin-installer');
    const result = await runAsAdmin(coordinator, [
      'company', 'installer', '--company', String(beta.companyId), '--out', outDir, '--json',
    ]);
    const unknown = await runAsAdmin(coordinator, ['company', 'installer', '--company', '999999', '--out', outDir, '--json']);

    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout).path).toBe(path.join(outDir, installerFileName(beta.companyId)));
    expect(unknown.code).toBe(errorCodes.notFound.exit);
    expect(unknown.stderr).toContain('999999');
  });

  test('agent enrolls and saves a private state', async () => {
    const agent = await Agent.start({ name: 'enrolled-laptop', installer: await downloadInstaller(alpha) });
    const resource = await waitForResource(alpha, 'enrolled-laptop', true);

    expect(Number.isInteger(resource.id)).toBe(true);
    expect(Number.isNaN(Date.parse(resource.lastSeenAt ?? ''))).toBe(false);
    expect((await stat(agent.statePath)).mode & 0o777).toBe(0o600);
    const state = JSON.parse(await readFile(agent.statePath, 'utf8'));
    expect(state.resourceId).toBe(resource.id);
    expect((await listResources(beta)).map((entry) => entry.name)).not.toContain('enrolled-laptop');
  });

  test('agent rejects an installer renamed to another company', async () => {
    const original = await downloadInstaller(alpha);
    const renamedDir = await makeTempDir('renamed-installer');
    const renamed = path.join(renamedDir, installerFileName(alpha.companyId + 1000));
    await copyFile(original, renamed);
    const stateDir = await makeTempDir('agent-renamed');

    const result = await runCli(
      ['agent', 'start', '--installer', renamed, '--state-dir', stateDir, '--name', 'renamed-installer'],
      { configDir: stateDir, timeoutMs: 20_000 },
    );

    expect(result.code, `agent should exit on its own\n${result.stderr}`).not.toBeNull();
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(String(alpha.companyId + 1000));
    expect((await listResources(alpha)).map((entry) => entry.name)).not.toContain('renamed-installer');
  });

  test('enrollment with a wrong secret creates no resource', async () => {
    const betaSecret = (await readInstaller(await downloadInstaller(beta))).enrollmentSecret;
    const attempts = [
      { companyId: alpha.companyId, enrollmentSecret: 'x'.repeat(32), name: 'forged-secret' },
      { companyId: alpha.companyId, enrollmentSecret: betaSecret, name: 'forged-secret' },
    ];

    for (const attempt of attempts) {
      const response = await api(coordinator.url, 'POST', '/resource/register', { json: attempt });
      // The spec fixes no status for a bad secret; what matters is that nothing is enrolled.
      expect([401, 403], response.text).toContain(response.status);
    }
    expect((await listResources(alpha)).map((entry) => entry.name)).not.toContain('forged-secret');
  });
});
