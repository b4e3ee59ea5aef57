import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { loadOrEnroll, readInstaller } from '../../agent/enroll.ts';
import { readStateFile, writeStateFile, type AgentState } from '../../agent/state-file.ts';
import { SyncctlError } from '../../src/protocol/errors.ts';
import { makeTempDir } from '../helpers/temp.ts';

const secret = 'enrollment-secret-0123456789';
const silent = pino({ level: 'silent' });

async function writeInstaller(folder: string, fileName: string, content: unknown): Promise<string> {
  const filePath = path.join(folder, fileName);
  await writeFile(filePath, typeof content === 'string' ? content : JSON.stringify(content));
  return filePath;
}

async function invalidInputMessage(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => null,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(SyncctlError);
  expect((error as SyncctlError).code).toBe('invalidInput');
  return (error as SyncctlError).message;
}

describe('readInstaller', () => {
  it('reads a valid installer', async () => {
    const folder = await makeTempDir('installer-ok');
    const installer = {
      companyId: 19,
      coordinatorUrl: 'http://127.0.0.1:8080',
      enrollmentSecret: secret,
    };
    const filePath = await writeInstaller(folder, 'syncctl-agent-company-19.json', installer);

    expect(await readInstaller(filePath)).toEqual(installer);
  });

  it('accepts a browser copy suffix in the name', async () => {
    const folder = await makeTempDir('installer-copy');
    const installer = {
      companyId: 19,
      coordinatorUrl: 'http://127.0.0.1:8080',
      enrollmentSecret: secret,
    };
    const filePath = await writeInstaller(folder, 'syncctl-agent-company-19 (1).json', installer);

    expect(await readInstaller(filePath)).toEqual(installer);
  });

  it('rejects a name without a company id', async () => {
    const folder = await makeTempDir('installer-name');
    const filePath = await writeInstaller(folder, 'installer.json', { companyId: 19 });

    const message = await invalidInputMessage(readInstaller(filePath));

    expect(message).toContain('"installer.json"');
    expect(message).toContain('syncctl-agent-company-19.json');
  });

  it('rejects a company id that differs from the name', async () => {
    const folder = await makeTempDir('installer-mismatch');
    const installer = {
      companyId: 20,
      coordinatorUrl: 'http://127.0.0.1:8080',
      enrollmentSecret: secret,
    };
    const filePath = await writeInstaller(folder, 'syncctl-agent-company-19.json', installer);

    const message = await invalidInputMessage(readInstaller(filePath));

    expect(message).toContain('company 19');
    expect(message).toContain('"companyId" is 20');
    expect(message).toContain('syncctl company installer');
  });

  it('names the invalid field and hides the secret', async () => {
    const folder = await makeTempDir('installer-field');
    const badUrl = await writeInstaller(folder, 'syncctl-agent-company-3.json', {
      companyId: 3,
      coordinatorUrl: 'not a url',
      enrollmentSecret: secret,
    });
    const shortSecret = await writeInstaller(folder, 'syncctl-agent-company-4.json', {
      companyId: 4,
      coordinatorUrl: 'http://127.0.0.1:8080',
      enrollmentSecret: 'short-secret',
    });

    const urlMessage = await invalidInputMessage(readInstaller(badUrl));
    const secretMessage = await invalidInputMessage(readInstaller(shortSecret));

    expect(urlMessage).toContain('"coordinatorUrl"');
    expect(urlMessage).toContain('"not a url"');
    expect(secretMessage).toContain('"enrollmentSecret"');
    expect(secretMessage).not.toContain('short-secret');
  });

  it('rejects malformed JSON and a missing file', async () => {
    const folder = await makeTempDir('installer-json');
    const filePath = await writeInstaller(folder, 'syncctl-agent-company-5.json', '{ not json');

    expect(await invalidInputMessage(readInstaller(filePath))).toContain('not valid JSON');
    expect(
      await invalidInputMessage(readInstaller(path.join(folder, 'syncctl-agent-company-6.json'))),
    ).toContain('not found');
  });
});

describe('state file', () => {
  const state: AgentState = {
    coordinatorUrl: 'http://127.0.0.1:8080',
    companyId: 1,
    resourceId: 2,
    token: 'resource-token-abcdef',
    name: 'laptop',
  };

  it('is written with mode 0600 in a folder with mode 0700', async () => {
    const parent = await makeTempDir('state-mode');
    const stateDir = path.join(parent, 'agent');

    await writeStateFile(stateDir, state);

    expect((await stat(stateDir)).mode & 0o777).toBe(0o700);
    expect((await stat(path.join(stateDir, 'state.json'))).mode & 0o777).toBe(0o600);
    expect(await readStateFile(stateDir)).toEqual(state);
  });

  it('reads as null when absent', async () => {
    const stateDir = await makeTempDir('state-absent');

    expect(await readStateFile(stateDir)).toBeNull();
  });

  it('rejects a damaged file without showing the token', async () => {
    const stateDir = await makeTempDir('state-damaged');
    await writeFile(path.join(stateDir, 'state.json'), JSON.stringify({ ...state, token: 5 }));

    const message = await invalidInputMessage(readStateFile(stateDir));

    expect(message).toContain('"token"');
    expect(message).toContain('--installer');
    expect(message).not.toContain('5)');
  });

  it('is reused without an installer', async () => {
    const stateDir = await makeTempDir('state-reuse');
    await writeStateFile(stateDir, state);

    expect(await loadOrEnroll({ stateDir, logger: silent })).toEqual(state);
  });

  it('requires an installer when there is no state', async () => {
    const stateDir = await makeTempDir('state-none');

    const message = await invalidInputMessage(loadOrEnroll({ stateDir, logger: silent }));

    expect(message).toContain(path.join(stateDir, 'state.json'));
    expect(message).toContain('--installer');
  });

  it('rejects an installer of another company', async () => {
    const stateDir = await makeTempDir('state-other-company');
    await writeStateFile(stateDir, state);
    const folder = path.join(stateDir, 'downloads');
    await mkdir(folder);
    const installerPath = await writeInstaller(folder, 'syncctl-agent-company-9.json', {
      companyId: 9,
      coordinatorUrl: 'http://127.0.0.1:8080',
      enrollmentSecret: secret,
    });

    const message = await invalidInputMessage(
      loadOrEnroll({ stateDir, installerPath, logger: silent }),
    );

    expect(message).toContain('company 9');
    expect(message).toContain('company 1');
    expect(JSON.parse(await readFile(path.join(stateDir, 'state.json'), 'utf8'))).toEqual(state);
  });
});
