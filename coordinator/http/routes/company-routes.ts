import { Hono } from 'hono';
import { idSchema } from '../../../src/protocol/ids.ts';
import { parseInput } from '../../../src/protocol/validation.ts';
import { getInstaller } from '../../services/companies.ts';
import { listResources } from '../../services/resources.ts';
import { companyAccess } from '../access.ts';
import type { AppEnv } from '../app-env.ts';

/** Routes under `/companies/:companyId`; each passes the company access check first. */
export const companyRoutes = new Hono<AppEnv>();

companyRoutes.use('/companies/:companyId/*', companyAccess);

export function companyIdParam(value: string | undefined): number {
  return parseInput(idSchema, value, 'path parameter "companyId"');
}

companyRoutes.get('/companies/:companyId/installer', async (c) => {
  const installer = await getInstaller(c.get('deps'), companyIdParam(c.req.param('companyId')));
  c.header('Content-Disposition', `attachment; filename="${installer.fileName}"`);
  c.header('X-Syncctl-Installer-Name', installer.fileName);
  return c.body(installer.content, 200, { 'Content-Type': 'application/json' });
});

companyRoutes.get('/companies/:companyId/resources', async (c) => {
  return c.json(await listResources(c.get('deps'), companyIdParam(c.req.param('companyId'))));
});
