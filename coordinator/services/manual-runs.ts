import { invalidInput } from '../../src/protocol/errors.ts';
import type { RunView } from '../../src/protocol/runs.ts';
import { getCompanyConfigRow } from './backup-configs.ts';
import { mappedResourceIds } from './config-mappings.ts';
import { requestBackupRun } from './backup-runs.ts';
import type { ServiceDeps } from './service-deps.ts';

/** Starts a backup run now, on one resource of the config or on every resource it applies to. */
export async function runBackupConfig(deps: ServiceDeps, companyId: number, configId: number, resourceId?: number): Promise<RunView[]> {
  const config = await getCompanyConfigRow(deps, companyId, configId);
  if (config.deleted === 1 || config.enable !== 1) {
    throw invalidInput(`Backup config ${configId} is disabled or deleted; enable it with "syncctl backup update ${configId} --enable"`);
  }
  const mapped = await mappedResourceIds(deps, configId);
  if (resourceId !== undefined && !mapped.includes(resourceId)) {
    throw invalidInput(`Field "resourceId" (value: ${resourceId}): backup config ${configId} does not apply to that resource; it applies to ${mapped.join(', ') || 'none'}`);
  }
  const targets = resourceId === undefined ? mapped : [resourceId];
  const runs: RunView[] = [];
  for (const target of targets) {
    runs.push(await requestBackupRun(deps, { configId, resourceId: target, trigger: 'manual', full: false }));
  }
  return runs;
}
