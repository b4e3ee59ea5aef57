import { Hono, type Context } from 'hono';
import { z } from 'zod';
import { backupConfigInputSchema, backupConfigUpdateSchema } from '../../../src/protocol/backup-config.ts';
import { invalidInput } from '../../../src/protocol/errors.ts';
import { idSchema } from '../../../src/protocol/ids.ts';
import { restoreRequestSchema } from '../../../src/protocol/runs.ts';
import { parseInput } from '../../../src/protocol/validation.ts';
import {
  createBackupConfig,
  deleteBackupConfig,
  getCompanyConfigRow,
  listBackupConfigs,
  updateBackupConfig,
} from '../../services/backup-configs.ts';
import { toConfigView } from '../../services/backup-config-rows.ts';
import { runBackupConfig } from '../../services/manual-runs.ts';
import { requestRestore } from '../../services/restores.ts';
import { getCompanyRun, listConfigRuns } from '../../services/run-rows.ts';
import { listSnapshots } from '../../services/snapshots.ts';
import type { AppEnv } from '../app-env.ts';
import { readJson, readRawJson } from '../read-json.ts';
import { companyIdParam } from './company-routes.ts';

/** REST routes for backup configs, their runs, snapshots and restores. */
export const backupConfigRoutes = new Hono<AppEnv>();

function idParam(value: string | undefined, name: string): number {
  return parseInput(idSchema, value, `path parameter "${name}"`);
}

backupConfigRoutes.get('/companies/:companyId/backup-configs', async (c) => {
  const includeDeleted = c.req.query('includeDeleted') === 'true';
  return c.json(await listBackupConfigs(c.get('deps'), companyIdParam(c.req.param('companyId')), includeDeleted));
});

backupConfigRoutes.post('/companies/:companyId/backup-configs', async (c) => {
  const companyId = companyIdParam(c.req.param('companyId'));
  const body = await readRawJson(c);
  const withCompany = body !== null && typeof body === 'object' ? { companyId, ...body } : body;
  const input = parseInput(backupConfigInputSchema, withCompany, 'request body');
  if (input.companyId !== companyId) {
    throw invalidInput(`Field "companyId" (value: ${input.companyId}) must match the company ${companyId} in the URL`);
  }
  return c.json(await createBackupConfig(c.get('deps'), input), 201);
});

backupConfigRoutes.get('/companies/:companyId/backup-configs/:configId', async (c) => {
  const companyId = companyIdParam(c.req.param('companyId'));
  const row = await getCompanyConfigRow(c.get('deps'), companyId, idParam(c.req.param('configId'), 'configId'));
  return c.json(toConfigView(row));
});

const updateBodySchema = backupConfigUpdateSchema.omit({ id: true });

async function handleUpdate(c: Context<AppEnv>) {
  const companyId = companyIdParam(c.req.param('companyId'));
  const configId = idParam(c.req.param('configId'), 'configId');
  const body = await readJson(c, updateBodySchema);
  return c.json(await updateBackupConfig(c.get('deps'), companyId, { ...body, id: configId }));
}

backupConfigRoutes.put('/companies/:companyId/backup-configs/:configId', handleUpdate);
backupConfigRoutes.patch('/companies/:companyId/backup-configs/:configId', handleUpdate);

backupConfigRoutes.delete('/companies/:companyId/backup-configs/:configId', async (c) => {
  const companyId = companyIdParam(c.req.param('companyId'));
  return c.json(await deleteBackupConfig(c.get('deps'), companyId, idParam(c.req.param('configId'), 'configId')));
});

const runRequestSchema = z.object({ resourceId: idSchema.optional() });

backupConfigRoutes.post('/companies/:companyId/backup-configs/:configId/runs', async (c) => {
  const companyId = companyIdParam(c.req.param('companyId'));
  const configId = idParam(c.req.param('configId'), 'configId');
  const body = await readJson(c, runRequestSchema);
  return c.json({ runs: await runBackupConfig(c.get('deps'), companyId, configId, body.resourceId) }, 202);
});

backupConfigRoutes.get('/companies/:companyId/backup-configs/:configId/snapshots', async (c) => {
  const companyId = companyIdParam(c.req.param('companyId'));
  const configId = idParam(c.req.param('configId'), 'configId');
  const resource = c.req.query('resourceId');
  const resourceId = resource === undefined ? undefined : idParam(resource, 'resourceId');
  return c.json(await listSnapshots(c.get('deps'), companyId, configId, resourceId));
});

backupConfigRoutes.post('/companies/:companyId/restores', async (c) => {
  const companyId = companyIdParam(c.req.param('companyId'));
  const request = await readJson(c, restoreRequestSchema);
  return c.json(await requestRestore(c.get('deps'), companyId, request), 202);
});

/**
 * Maximum of `?waitSeconds=`. A held request then ends within nginx's default `proxy_read_timeout`
 * of 60 s.
 */
const maxRunWaitSeconds = 60;

backupConfigRoutes.get('/companies/:companyId/runs/:runId', async (c) => {
  const companyId = companyIdParam(c.req.param('companyId'));
  const runId = idParam(c.req.param('runId'), 'runId');
  const waitSeconds = waitSecondsParam(c.req.query('waitSeconds'));
  return c.json(await getCompanyRun(c.get('deps'), companyId, runId, waitSeconds * 1000));
});

/** Parses `?waitSeconds=`: whole seconds from 0 to `maxRunWaitSeconds`, 0 when absent. */
function waitSecondsParam(value: string | undefined): number {
  if (value === undefined) return 0;
  const seconds = Number(value);
  if (!/^\d+$/.test(value) || seconds > maxRunWaitSeconds) {
    throw invalidInput(`waitSeconds "${value}" is invalid; send whole seconds from 0 to ${maxRunWaitSeconds}`);
  }
  return seconds;
}

backupConfigRoutes.get('/companies/:companyId/backup-configs/:configId/runs', async (c) => {
  const companyId = companyIdParam(c.req.param('companyId'));
  const configId = idParam(c.req.param('configId'), 'configId');
  return c.json(await listConfigRuns(c.get('deps'), companyId, configId));
});
