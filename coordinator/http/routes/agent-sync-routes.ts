import { Hono } from 'hono';
import { z } from 'zod';
import { shareResultSchema, syncAppliedSchema, syncEntrySchema, syncEventsSchema, syncScanSchema } from '../../../src/protocol/agent-api.ts';
import { idSchema } from '../../../src/protocol/ids.ts';
import { parseInput } from '../../../src/protocol/validation.ts';
import { recordShareResult } from '../../services/shares.ts';
import { recordApplied, recordSourceEvents, recordSourceScan, uploadSyncContent } from '../../services/sync-agent-work.ts';
import { requireResource } from '../access.ts';
import type { AppEnv } from '../app-env.ts';
import { readJson } from '../read-json.ts';
import { requestBodyStream } from './sync-config-routes.ts';

/** Sync and share routes that agents call with their resource token. */
export const agentSyncRoutes = new Hono<AppEnv>();

agentSyncRoutes.use('/uploadv2ForSync', requireResource);

const uploadQuerySchema = z.object({
  configId: idSchema,
  path: z.string().min(1).startsWith('/'),
  hash: z.string().regex(/^[0-9a-f]{64}$/),
  size: z.coerce.number().int().nonnegative(),
  mode: z.coerce.number().int().nonnegative(),
  mtimeMs: z.coerce.number(),
});

/** Streams one file's content from a sync source; the query carries its path and metadata. */
agentSyncRoutes.on(['POST', 'PUT'], '/uploadv2ForSync', async (c) => {
  const query = parseInput(uploadQuerySchema, c.req.query(), 'query parameter');
  const entry = parseInput(syncEntrySchema, { ...query, type: 'file' }, 'query parameter');
  // An empty file is sent as an empty body; otherwise Content-Length 0 means "content omitted".
  const hasBody = query.size === 0 || (c.req.header('content-length') !== '0' && c.req.raw.body !== null);
  const result = await uploadSyncContent(c.get('deps'), c.get('resource'), query.configId, entry, hasBody ? requestBodyStream(c) : null);
  return c.json(result);
});

agentSyncRoutes.post('/agent/sync/events', async (c) => {
  const input = await readJson(c, syncEventsSchema);
  return c.json({ changed: await recordSourceEvents(c.get('deps'), c.get('resource'), input.configId, input.events) });
});

agentSyncRoutes.post('/agent/sync/scan', async (c) => {
  const input = await readJson(c, syncScanSchema);
  return c.json({ changed: await recordSourceScan(c.get('deps'), c.get('resource'), input.configId, input.roots, input.entries) });
});

agentSyncRoutes.post('/agent/sync/applied', async (c) => {
  const input = await readJson(c, syncAppliedSchema);
  await recordApplied(c.get('deps'), c.get('resource'), input);
  return c.json({ ok: true });
});

agentSyncRoutes.post('/agent/shares/:shareId/result', async (c) => {
  const shareId = parseInput(idSchema, c.req.param('shareId'), 'path parameter "shareId"');
  const input = await readJson(c, shareResultSchema);
  await recordShareResult(c.get('deps'), c.get('resource'), shareId, input.storedPath, input.error);
  return c.json({ ok: true });
});
