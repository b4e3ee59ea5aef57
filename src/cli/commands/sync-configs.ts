import { invalidInput } from '../../protocol/errors.ts';
import type { SyncConfig, SyncDestination } from '../../protocol/sync-config.ts';
import { parsePositiveInt, requireAbsolutePath, resolveCompanyId, resolveContext, type CommandContext, type GlobalOptions } from '../context.ts';
import { formatTable, printResult } from '../output.ts';

export interface SyncAddOptions {
  company?: string;
  resource: string;
  name: string;
  path: string[];
  exclude?: string[];
  dest: string[];
  disabled?: boolean;
}

/** Parses `--dest RID` or `--dest RID=DIR`. */
export function parseDestination(value: string): SyncDestination {
  const [id, ...rest] = value.split('=');
  const dir = rest.join('=');
  const resourceId = parsePositiveInt(id, '--dest');
  if (rest.length > 0 && dir === '') throw invalidInput(`Invalid --dest "${value}": give RID or RID=DIR with an absolute DIR`);
  if (dir !== '' && !dir.startsWith('/')) throw invalidInput(`Invalid --dest "${value}": DIR must be an absolute path on the destination, such as ${id}=/srv/mirror`);
  return { resourceId, targetDir: dir === '' ? null : dir };
}

function describeSyncConfig(config: SyncConfig): string {
  const destinations = config.destinations.map((d) => (d.targetDir ? `${d.resourceId} -> ${d.targetDir}` : `${d.resourceId} (same paths)`));
  return [
    `Sync config ${config.id} "${config.name}" (${config.enable ? 'enabled' : 'disabled'}${config.deleted ? ', deleted' : ''})`,
    `  source:       resource ${config.resourceId}`,
    `  include:      ${config.pathDetails.includePaths.join(', ')}`,
    `  exclude:      ${config.pathDetails.excludePaths.join(', ') || '-'}`,
    `  destinations: ${destinations.join(', ')}`,
  ].join('\n');
}

export async function syncAdd(options: SyncAddOptions, globals: GlobalOptions): Promise<void> {
  const context = await resolveContext(globals);
  const companyId = resolveCompanyId(context, options.company);
  const body = {
    name: options.name,
    enable: options.disabled !== true,
    resourceId: parsePositiveInt(options.resource, '--resource'),
    pathDetails: { includePaths: options.path.map((p) => requireAbsolutePath(p, '--path')), excludePaths: options.exclude ?? [] },
    destinationResources: options.dest.map(parseDestination),
  };
  const config = await context.client.request<SyncConfig>('POST', `/companies/${companyId}/sync-configs`, body);
  printResult(context.json, config, () => `${describeSyncConfig(config)}\nFollow it with: syncctl sync status ${config.id}`);
}

export async function syncList(options: { company?: string }, globals: GlobalOptions): Promise<void> {
  const context = await resolveContext(globals);
  const companyId = resolveCompanyId(context, options.company);
  const configs = await context.client.request<SyncConfig[]>('GET', `/companies/${companyId}/sync-configs`);
  printResult(context.json, configs, () =>
    configs.length === 0
      ? 'No sync configs; add one with "syncctl sync add".'
      : formatTable(['ID', 'NAME', 'ENABLED', 'SOURCE', 'DESTINATIONS', 'PATHS'], configs.map((c) => [c.id, c.name, c.enable ? 'yes' : 'no', c.resourceId, c.destinationResources.join(','), c.pathDetails.includePaths.join(', ')])),
  );
}

async function configContext(id: string, company: string | undefined, globals: GlobalOptions): Promise<{ context: CommandContext; companyId: number; configId: number }> {
  const context = await resolveContext(globals);
  return { context, companyId: resolveCompanyId(context, company), configId: parsePositiveInt(id, 'config ID') };
}

export async function syncShow(id: string, options: { company?: string }, globals: GlobalOptions): Promise<void> {
  const { context, companyId, configId } = await configContext(id, options.company, globals);
  const config = await context.client.request<SyncConfig>('GET', `/companies/${companyId}/sync-configs/${configId}`);
  printResult(context.json, config, () => describeSyncConfig(config));
}

export interface SyncUpdateOptions {
  company?: string;
  resource?: string;
  name?: string;
  path?: string[];
  exclude?: string[];
  dest?: string[];
  enable?: boolean;
  disable?: boolean;
}

export async function syncUpdate(id: string, options: SyncUpdateOptions, globals: GlobalOptions): Promise<void> {
  const { context, companyId, configId } = await configContext(id, options.company, globals);
  if (options.enable && options.disable) throw invalidInput('Give either --enable or --disable, not both');
  const current = await context.client.request<SyncConfig>('GET', `/companies/${companyId}/sync-configs/${configId}`);

  const body: Record<string, unknown> = {};
  if (options.name !== undefined) body.name = options.name;
  if (options.enable) body.enable = true;
  if (options.disable) body.enable = false;
  if (options.resource !== undefined) body.resourceId = parsePositiveInt(options.resource, '--resource');
  if (options.dest !== undefined) body.destinationResources = options.dest.map(parseDestination);
  if (options.path !== undefined || options.exclude !== undefined) {
    body.pathDetails = {
      includePaths: options.path ? options.path.map((p) => requireAbsolutePath(p, '--path')) : current.pathDetails.includePaths,
      excludePaths: options.exclude ?? current.pathDetails.excludePaths,
    };
  }
  const config = await context.client.request<SyncConfig>('PUT', `/companies/${companyId}/sync-configs/${configId}`, body);
  printResult(context.json, config, () => describeSyncConfig(config));
}

export async function syncDelete(id: string, options: { company?: string }, globals: GlobalOptions): Promise<void> {
  const { context, companyId, configId } = await configContext(id, options.company, globals);
  const config = await context.client.request<SyncConfig>('DELETE', `/companies/${companyId}/sync-configs/${configId}`);
  printResult(context.json, config, () => `Sync config ${config.id} deleted; files already on destinations stay.`);
}

interface SyncStatusView {
  configId: number;
  destinations: { resourceId: number; online: boolean; inSync: boolean; pending: number; lastError: string | null; conflicts: { path: string; conflictPath: string }[] }[];
}

export async function syncStatus(id: string, options: { company?: string }, globals: GlobalOptions): Promise<void> {
  const { context, companyId, configId } = await configContext(id, options.company, globals);
  const status = await context.client.request<SyncStatusView>('GET', `/companies/${companyId}/sync-configs/${configId}/status`);
  printResult(context.json, status, () => {
    const table = formatTable(
      ['DESTINATION', 'ONLINE', 'IN SYNC', 'PENDING', 'CONFLICTS', 'LAST ERROR'],
      status.destinations.map((d) => [d.resourceId, d.online ? 'yes' : 'no', d.inSync ? 'yes' : 'no', d.pending, d.conflicts.length, d.lastError ?? '-']),
    );
    const conflicts = status.destinations.flatMap((d) => d.conflicts.map((c) => `conflict on ${d.resourceId}: ${c.path} kept as ${c.conflictPath}`));
    return [table, ...conflicts].join('\n');
  });
}
