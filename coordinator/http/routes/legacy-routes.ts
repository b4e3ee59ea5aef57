import { Hono } from 'hono';
import { parseLegacyBackupUpdate } from '../../../src/protocol/backup-config.ts';
import { createBackupConfig, deleteBackupConfig, updateBackupConfig } from '../../services/backup-configs.ts';
import { loadConfigRow } from '../../services/backup-config-rows.ts';
import { checkCompanyAccess, requireUserOrAdmin } from '../access.ts';
import type { AppEnv } from '../app-env.ts';
import { readRawJson } from '../read-json.ts';

/**
 * `POST /backup/updateConfig`, kept in the original system's shape: one of `addConfig`,
 * `updateConfig` or `deleteConfig`. It responds as the REST routes do, with the stored config.
 */
export const legacyRoutes = new Hono<AppEnv>();

legacyRoutes.post('/backup/updateConfig', async (c) => {
  requireUserOrAdmin(c);
  const deps = c.get('deps');
  const body = parseLegacyBackupUpdate(await readRawJson(c));

  if ('addConfig' in body) {
    await checkCompanyAccess(c, body.addConfig.companyId);
    return c.json(await createBackupConfig(deps, body.addConfig), 201);
  }
  if ('updateConfig' in body) {
    const companyId = (await loadConfigRow(deps, body.updateConfig.id)).company_id;
    await checkCompanyAccess(c, companyId);
    return c.json(await updateBackupConfig(deps, companyId, body.updateConfig));
  }
  const companyId = (await loadConfigRow(deps, body.deleteConfig.id)).company_id;
  await checkCompanyAccess(c, companyId);
  return c.json(await deleteBackupConfig(deps, companyId, body.deleteConfig.id));
});
