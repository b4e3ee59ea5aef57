import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { Hono, type Context } from 'hono';
import { z } from 'zod';
import { invalidInput } from '../../../src/protocol/errors.ts';
import { idSchema } from '../../../src/protocol/ids.ts';
import { parseLegacySyncUpdate, syncConfigInputSchema, syncConfigUpdateSchema } from '../../../src/protocol/sync-config.ts';
import { parseInput } from '../../../src/protocol/validation.ts';
import { getShare, shareFile } from '../../services/shares.ts';
import { getCompanySyncConfigRow, loadSyncConfigRow, toSyncConfigView } from '../../services/sync-config-rows.ts';
import { createSyncConfig, deleteSyncConfig, listSyncConfigs, updateSyncConfig } from '../../services/sync-configs.ts';
import { syncStatus } from '../../services/sync-status.ts';
import { checkCompanyAccess, requireUserOrAdmin } from '../access.ts';
import type { AppEnv } from '../app-env.ts';
import { readJson, readRawJson } from '../read-json.ts';
import { companyIdParam } from './company-routes.ts';

/** REST routes for sync configs and file shares, and the legacy `POST /sync/updateConfig`. */
export const syncConfigRoutes = new Hono<AppEnv>();

function idParam(value: string | undefined, name: string): number {
  return parseInput(idSchema, value, `path parameter "${name}"`);
}

export function requestBodyStream(c: Context): Readable {
  return c.req.raw.body ? Readable.fromWeb(c.req.raw.body as WebReadableStream) : Readable.from([]);
}

syncConfigRoutes.get('/companies/:companyId/sync-configs', async (c) => {
  return c.json(await listSyncConfigs(c.get('deps'), companyIdParam(c.req.param('companyId'))));
});

syncConfigRoutes.post('/companies/:companyId/sync-configs', async (c) => {
  const companyId = companyIdParam(c.req.param('companyId'));
  const body = await readRawJson(c);
  const withCompany = body !== null && typeof body === 'object' ? { companyId, ...body } : body;
  const input = parseInput(syncConfigInputSchema, withCompany, 'request body');
  if (input.companyId !== companyId) {
    throw invalidInput(`Field "companyId" (value: ${input.companyId}) must match the company ${companyId} in the URL`);
  }
  return c.json(await createSyncConfig(c.get('deps'), input), 201);
});

syncConfigRoutes.get('/companies/:companyId/sync-configs/:configId', async (c) => {
  const deps = c.get('deps');
  const row = await getCompanySyncConfigRow(deps, companyIdParam(c.req.param('companyId')), idParam(c.req.param('configId'), 'configId'));
  return c.json(await toSyncConfigView(deps, row));
});

const updateBodySchema = syncConfigUpdateSchema.omit({ id: true });

async function handleUpdate(c: Context<AppEnv>) {
  const companyId = companyIdParam(c.req.param('companyId'));
  const configId = idParam(c.req.param('configId'), 'configId');
  const body = await readJson(c, updateBodySchema);
  return c.json(await updateSyncConfig(c.get('deps'), companyId, { ...body, id: configId }));
}

syncConfigRoutes.put('/companies/:companyId/sync-configs/:configId', handleUpdate);
syncConfigRoutes.patch('/companies/:companyId/sync-configs/:configId', handleUpdate);

syncConfigRoutes.delete('/companies/:companyId/sync-configs/:configId', async (c) => {
  const companyId = companyIdParam(c.req.param('companyId'));
  return c.json(await deleteSyncConfig(c.get('deps'), companyId, idParam(c.req.param('configId'), 'configId')));
});

syncConfigRoutes.get('/companies/:companyId/sync-configs/:configId/status', async (c) => {
  const companyId = companyIdParam(c.req.param('companyId'));
  return c.json(await syncStatus(c.get('deps'), companyId, idParam(c.req.param('configId'), 'configId')));
});

const shareQuerySchema = z.object({
  resourceId: idSchema,
  name: z.string().min(1, 'must be the file name'),
  hash: z.string().regex(/^[0-9a-f]{64}$/, 'must be the SHA-256 of the file in hex'),
  size: z.coerce.number().int().nonnegative(),
  to: z.string().startsWith('/', 'must be an absolute folder on the resource').optional(),
});

syncConfigRoutes.post('/companies/:companyId/shares', async (c) => {
  const companyId = companyIdParam(c.req.param('companyId'));
  const query = parseInput(shareQuerySchema, c.req.query(), 'query parameter');
  const request = { resourceId: query.resourceId, fileName: query.name, hash: query.hash, size: query.size, targetDir: query.to ?? null };
  return c.json(await shareFile(c.get('deps'), companyId, request, requestBodyStream(c)), 202);
});

syncConfigRoutes.get('/companies/:companyId/shares/:shareId', async (c) => {
  const companyId = companyIdParam(c.req.param('companyId'));
  return c.json(await getShare(c.get('deps'), companyId, idParam(c.req.param('shareId'), 'shareId')));
});

syncConfigRoutes.post('/sync/updateConfig', async (c) => {
  requireUserOrAdmin(c);
  const deps = c.get('deps');
  const body = parseLegacySyncUpdate(await readRawJson(c));

  if ('addConfig' in body) {
    await checkCompanyAccess(c, body.addConfig.companyId);
    return c.json(await createSyncConfig(deps, body.addConfig), 201);
  }
  if ('updateConfig' in body) {
    const companyId = (await loadSyncConfigRow(deps, body.updateConfig.id)).company_id;
    await checkCompanyAccess(c, companyId);
    return c.json(await updateSyncConfig(deps, companyId, body.updateConfig));
  }
  const companyId = (await loadSyncConfigRow(deps, body.deleteConfig.id)).company_id;
  await checkCompanyAccess(c, companyId);
  return c.json(await deleteSyncConfig(deps, companyId, body.deleteConfig.id));
});
