import { Hono } from 'hono';
import { missingBlobsSchema, reportChangesSchema, requestRunSchema, signUrlsSchema } from '../../../src/protocol/agent-api.ts';
import { registerResourceSchema } from '../../../src/protocol/resource.ts';
import { idSchema } from '../../../src/protocol/ids.ts';
import { failRunSchema, runProgressSchema } from '../../../src/protocol/runs.ts';
import { parseInput } from '../../../src/protocol/validation.ts';
import {
  agentRunProgress,
  commitAgentRun,
  configsForResource,
  failAgentRun,
  reportChanges,
  requestAgentRun,
  signAgentUrls,
  startAgentRun,
} from '../../services/agent-work.ts';
import { missingBlobs } from '../../services/blobs.ts';
import { registerResource } from '../../services/resources.ts';
import { requireResource } from '../access.ts';
import type { AppEnv } from '../app-env.ts';
import { readJson, readRawJson } from '../read-json.ts';

/** Routes that agents call: enrollment with the company secret, the rest with a resource token. */
export const agentRoutes = new Hono<AppEnv>();

agentRoutes.post('/resource/register', async (c) => {
  const input = await readJson(c, registerResourceSchema);
  return c.json(await registerResource(c.get('deps'), input), 201);
});

agentRoutes.use('/agent/*', requireResource);

function runIdParam(value: string | undefined): number {
  return parseInput(idSchema, value, 'path parameter "runId"');
}

agentRoutes.get('/agent/configs', async (c) => c.json(await configsForResource(c.get('deps'), c.get('resource'))));

agentRoutes.post('/agent/changes', async (c) => {
  const input = await readJson(c, reportChangesSchema);
  await reportChanges(c.get('deps'), c.get('resource'), input.configId, input.changes);
  return c.json({ recorded: input.changes.length });
});

agentRoutes.post('/agent/runs', async (c) => {
  const input = await readJson(c, requestRunSchema);
  const run = await requestAgentRun(c.get('deps'), c.get('resource'), input.configId, input.full);
  return c.json({ runId: run.id }, 202);
});

agentRoutes.post('/agent/runs/:runId/start', async (c) => {
  return c.json(await startAgentRun(c.get('deps'), c.get('resource'), runIdParam(c.req.param('runId'))));
});

agentRoutes.post('/agent/runs/:runId/progress', async (c) => {
  const progress = await readJson(c, runProgressSchema);
  await agentRunProgress(c.get('deps'), c.get('resource'), runIdParam(c.req.param('runId')), progress);
  return c.json({ ok: true });
});

agentRoutes.post('/agent/runs/:runId/commit', async (c) => {
  const body = await readRawJson(c);
  return c.json(await commitAgentRun(c.get('deps'), c.get('resource'), runIdParam(c.req.param('runId')), body));
});

agentRoutes.post('/agent/runs/:runId/fail', async (c) => {
  const input = await readJson(c, failRunSchema);
  return c.json(await failAgentRun(c.get('deps'), c.get('resource'), runIdParam(c.req.param('runId')), input.message));
});

agentRoutes.post('/agent/blobs/missing', async (c) => {
  const input = await readJson(c, missingBlobsSchema);
  return c.json({ missing: await missingBlobs(c.get('deps'), c.get('resource').company_id, input.hashes) });
});

agentRoutes.post('/agent/urls', async (c) => {
  const input = await readJson(c, signUrlsSchema);
  return c.json(await signAgentUrls(c.get('deps'), c.get('resource'), input.put, input.get));
});
