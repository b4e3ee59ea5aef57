// The agent API and the signed URLs of the local store, used the way a hostile agent of another
// company would: every request carries a valid resource token, but of the wrong company.
import { createHash } from 'node:crypto';
import { beforeAll, describe, expect, test } from 'vitest';
import { installerFileName } from '../../src/protocol/company.ts';
import { objectKey } from '../../src/protocol/manifest.ts';
import { api, expectApiError, expectApiSuccess, type ApiResponse } from '../helpers/api.ts';
import { addBackup, backUpNewTree } from '../helpers/backup.ts';
import {
  downloadInstaller,
  enrollAgent,
  enrollWithoutAgent,
  readInstaller,
  registerCompany,
  type Company,
} from '../helpers/company.ts';
import { startCoordinator, type Coordinator } from '../helpers/coordinator.ts';

let coordinator: Coordinator;
let alpha: Company;
let beta: Company;
let alphaToken: string;
let betaToken: string;
let betaResourceId: number;
let betaSecret: string;

beforeAll(async () => {
  coordinator = await startCoordinator();
  alpha = await registerCompany(coordinator, 'Alpha');
  beta = await registerCompany(coordinator, 'Beta');
  alphaToken = (await enrollWithoutAgent(alpha, 'alpha-box')).token;
  const betaResource = await enrollWithoutAgent(beta, 'beta-box');
  betaToken = betaResource.token;
  betaResourceId = betaResource.resourceId;
  betaSecret = (await readInstaller(await downloadInstaller(beta))).enrollmentSecret;
});

function agentApi(token: string, method: string, path: string, json?: unknown): Promise<ApiResponse> {
  return api(coordinator.url, method, path, { token, json });
}

/** Requests signed URLs with a resource token and returns the response. */
function signUrls(token: string, request: { get?: string[]; put?: string[] }): Promise<ApiResponse> {
  return agentApi(token, 'POST', '/agent/urls', request);
}

async function signedGetUrl(token: string, key: string): Promise<string> {
  const { get } = expectApiSuccess(await signUrls(token, { get: [key] }));
  return get[key];
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Fetches a URL and returns its status and body text. */
async function fetchText(url: string, init?: RequestInit): Promise<{ status: number; text: string }> {
  const response = await fetch(url, init);
  return { status: response.status, text: await response.text() };
}

describe('signed URLs', () => {
  // Agents may only use the content and snapshot keys of their bucket, so the tests read an
  // object that Alpha's resource wrote itself.
  const alphaContent = `alpha object ${Date.now()}`;
  const alphaKey = objectKey(sha256(alphaContent));
  beforeAll(async () => {
    const { put } = expectApiSuccess(await signUrls(alphaToken, { put: [alphaKey] }));
    expect((await fetchText(put[alphaKey], { method: 'PUT', body: alphaContent })).status).toBeLessThan(300);
  });

  test('read objects of the own bucket', async () => {
    const { status, text } = await fetchText(await signedGetUrl(alphaToken, alphaKey));

    expect(status).toBe(200);
    expect(text).toBe(alphaContent);
  });

  test('installer is not readable by agents', async () => {
    const response = await signUrls(alphaToken, { get: [`installer/${installerFileName(alpha.companyId)}`] });

    expectApiError(response, 400);
  });

  test('altered or expired URL is forbidden', async () => {
    const url = new URL(await signedGetUrl(alphaToken, alphaKey));
    const signature = url.searchParams.get('sig')!;
    const otherKey = objectKey(sha256('another content'));
    const variants: Array<[string, (copy: URL) => void]> = [
      ['signature changed', (copy) => copy.searchParams.set('sig', `${signature.slice(0, -1)}${signature.endsWith('0') ? '1' : '0'}`)],
      ['signature missing', (copy) => copy.searchParams.delete('sig')],
      ['expiry moved', (copy) => copy.searchParams.set('expires', String(Number(copy.searchParams.get('expires')) + 3600))],
      ['expired', (copy) => copy.searchParams.set('expires', String(Math.floor(Date.now() / 1000) - 60))],
      ['other bucket', (copy) => (copy.pathname = copy.pathname.replace(`/store/${alpha.bucket}/`, `/store/${beta.bucket}/`))],
      ['other key', (copy) => (copy.pathname = copy.pathname.replace(alphaKey, otherKey))],
    ];

    for (const [change, alter] of variants) {
      const copy = new URL(url);
      alter(copy);
      const { status, text } = await fetchText(copy.toString());
      expect(status, change).toBe(403);
      expect(text, change).not.toBe(alphaContent);
    }
  });

  test('GET URL writes nothing', async () => {
    const key = objectKey(sha256('never written'));
    const getUrl = new URL(await signedGetUrl(alphaToken, key));
    const relabelled = new URL(getUrl);
    relabelled.searchParams.set('op', 'put');

    const asIs = await fetchText(getUrl.toString(), { method: 'PUT', body: 'never written' });
    const altered = await fetchText(relabelled.toString(), { method: 'PUT', body: 'never written' });

    expect(asIs.status).toBeGreaterThanOrEqual(400);
    expect(asIs.status).toBeLessThan(500);
    expect(altered.status).toBe(403);
    expect((await fetchText(getUrl.toString())).status).toBe(404);
  });

  test.each([
    ['parent folder', () => `../${beta.bucket}/installer/${installerFileName(beta.companyId)}`],
    ['parent inside the key', () => `installer/../../${beta.bucket}/installer/${installerFileName(beta.companyId)}`],
    ['absolute path', () => '/etc/passwd'],
    ['encoded parent', () => `..%2F${beta.bucket}%2Finstaller%2F${installerFileName(beta.companyId)}`],
  ])('key with %s is rejected', async (_case, key) => {
    const response = await signUrls(alphaToken, { get: [key()], put: [] });

    expectApiError(response, 400);
    expect(response.text).not.toContain(betaSecret);
  });

  test('content-addressed key takes only matching bytes', async () => {
    const content = `content ${Date.now()}`;
    const key = objectKey(sha256(content));
    const { put, get } = expectApiSuccess(await signUrls(alphaToken, { put: [key], get: [key] }));

    const wrong = await fetchText(put[key], { method: 'PUT', body: 'other bytes' });
    const afterWrong = await fetchText(get[key]);
    const right = await fetchText(put[key], { method: 'PUT', body: content });
    const afterRight = await fetchText(get[key]);

    expect(wrong.status).toBeGreaterThanOrEqual(400);
    expect(wrong.status).toBeLessThan(500);
    expect(afterWrong.status).toBe(404);
    expect(right.status).toBeGreaterThanOrEqual(200);
    expect(right.status).toBeLessThan(300);
    expect(afterRight).toEqual({ status: 200, text: content });
  });
});

describe('agent API across companies', () => {
  test('resource token is not a user session', async () => {
    const companyRoute = await agentApi(alphaToken, 'GET', `/companies/${alpha.companyId}/resources`);
    const agentRoute = await agentApi(alpha.token, 'GET', '/agent/configs');

    expect([401, 403], companyRoute.text).toContain(companyRoute.status);
    expectApiError(agentRoute, 401);
  });

  test('another company stays hidden', async () => {
    const betaConfig = await addBackup(beta, { name: 'beta files', paths: ['/srv/beta'], resourceId: betaResourceId });
    const queued = await beta.cliJson<{ runId: number }>([
      'backup', 'run', String(betaConfig.id), '--company', String(beta.companyId), '--resource', String(betaResourceId), '--json',
    ]);

    const configs = expectApiSuccess(await agentApi(alphaToken, 'GET', '/agent/configs'));
    const start = await agentApi(alphaToken, 'POST', `/agent/runs/${queued.runId}/start`);
    const fail = await agentApi(alphaToken, 'POST', `/agent/runs/${queued.runId}/fail`, { message: 'sabotage' });
    const changes = await agentApi(alphaToken, 'POST', '/agent/changes', {
      configId: betaConfig.id,
      changes: [{ path: '/srv/beta/planted.txt', kind: 'add' }],
    });
    const run = await agentApi(alphaToken, 'POST', '/agent/runs', { configId: betaConfig.id, full: true });

    expect(configs.backupConfigs.map((config: { id: number }) => config.id)).not.toContain(betaConfig.id);
    for (const [name, response] of Object.entries({ start, fail, changes, run })) {
      expect([403, 404], `${name}: ${response.text}`).toContain(response.status);
    }
    // Beta's own agent still finds its run unclaimed.
    const claimed = expectApiSuccess(await agentApi(betaToken, 'POST', `/agent/runs/${queued.runId}/start`));
    expect(claimed).toMatchObject({ kind: 'backup', runId: queued.runId });
    expect(claimed.changedPaths).not.toContain('/srv/beta/planted.txt');
  });

  test('missing blobs are per company', async () => {
    const content = `beta only ${Date.now()}`;
    const hash = sha256(content);
    const betaAgent = await enrollAgent(beta, 'beta-agent');
    await backUpNewTree(beta, betaAgent.resourceId, { 'beta.txt': content });

    const forBeta = expectApiSuccess(await agentApi(betaToken, 'POST', '/agent/blobs/missing', { hashes: [hash] }));
    const forAlpha = expectApiSuccess(await agentApi(alphaToken, 'POST', '/agent/blobs/missing', { hashes: [hash] }));

    expect(forBeta.missing).toEqual([]);
    expect(forAlpha.missing).toEqual([hash]);
  });
});
