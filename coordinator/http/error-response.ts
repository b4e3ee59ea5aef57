import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { SyncctlError, type ErrorBody } from '../../src/protocol/errors.ts';
import type { AppEnv } from './app-env.ts';

/** Maps any thrown error to `{error: {code, message}}` with its status, and logs it once. */
export function errorResponse(error: Error, c: Context<AppEnv>): Response {
  const logger = c.get('deps').logger;
  const where = { method: c.req.method, path: c.req.path };
  if (error instanceof SyncctlError) {
    logger.info({ ...where, status: error.status, code: error.code, message: error.message }, 'request rejected');
    const body: ErrorBody = { error: { code: error.code, message: error.message } };
    return c.json(body, error.status as ContentfulStatusCode);
  }
  if (error instanceof HTTPException) {
    logger.info({ ...where, status: error.status, message: error.message }, 'request rejected');
    return c.json({ error: { code: 'invalidInput', message: error.message } }, error.status);
  }
  logger.error({ ...where, err: error }, 'request failed');
  const body: ErrorBody = { error: { code: 'internal', message: 'Internal error; the coordinator log has the details' } };
  return c.json(body, 500);
}
