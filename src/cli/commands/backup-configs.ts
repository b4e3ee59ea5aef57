import type { BackupConfig } from '../../protocol/backup-config.ts';
import { invalidInput } from '../../protocol/errors.ts';
import { parsePositiveInt, requireAbsolutePath, resolveCompanyId, resolveContext, type CommandContext, type GlobalOptions } from '../context.ts';
import { formatTable, printResult } from '../output.ts';
import { describeSchedule, scheduleFromFlags } from '../schedule-flags.ts';

export interface BackupAddOptions {
  company?: string;
  resource?: string;
  name: string;
  path: string[];
  exclude?: string[];
  every?: string;
  cron?: string;
  disabled?: boolean;
}

function absolutePaths(paths: string[]): string[] {
  return paths.map((p) => requireAbsolutePath(p, '--path'));
}

function describeConfig(config: BackupConfig): string {
  const target = config.resourceId === null ? 'every resource' : `resource ${config.resourceId}`;
  return [
    `Backup config ${config.id} "${config.name}" (${config.enable ? 'enabled' : 'disabled'}${config.deleted ? ', deleted' : ''})`,
    `  applies to: ${target} of company ${config.companyId}`,
    `  schedule:   ${describeSchedule(config.scheduleDetails)}`,
    `  include:    ${config.pathDetails.includePaths.join(', ')}`,
    `  exclude:    ${config.pathDetails.excludePaths.join(', ') || '-'}`,
  ].join('\n');
}

export async function backupAdd(options: BackupAddOptions, globals: GlobalOptions): Promise<void> {
  const context = await resolveContext(globals);
  const companyId = resolveCompanyId(context, options.company);
  const scheduleDetails = scheduleFromFlags(options.every, options.cron);
  if (!scheduleDetails) throw invalidInput('Missing schedule: give --every (such as 1d) or --cron EXPR');

  const body = {
    name: options.name,
    enable: options.disabled !== true,
    companyId,
    resourceId: options.resource === undefined ? null : parsePositiveInt(options.resource, '--resource'),
    scheduleDetails,
    pathDetails: { includePaths: absolutePaths(options.path), excludePaths: options.exclude ?? [] },
  };
  const config = await context.client.request<BackupConfig>('POST', `/companies/${companyId}/backup-configs`, body);
  printResult(context.json, config, () => `${describeConfig(config)}\nThe first full backup starts now; follow it with: syncctl backup snapshots ${config.id}`);
}

export async function backupList(options: { company?: string }, globals: GlobalOptions): Promise<void> {
  const context = await resolveContext(globals);
  const companyId = resolveCompanyId(context, options.company);
  const configs = await context.client.request<BackupConfig[]>('GET', `/companies/${companyId}/backup-configs`);
  printResult(context.json, configs, () =>
    configs.length === 0
      ? 'No backup configs; add one with "syncctl backup add".'
      : formatTable(
          ['ID', 'NAME', 'ENABLED', 'RESOURCE', 'SCHEDULE', 'PATHS'],
          configs.map((c) => [c.id, c.name, c.enable ? 'yes' : 'no', c.resourceId ?? 'all', describeSchedule(c.scheduleDetails), c.pathDetails.includePaths.join(', ')]),
        ),
  );
}

async function configContext(id: string, company: string | undefined, globals: GlobalOptions): Promise<{ context: CommandContext; companyId: number; configId: number }> {
  const context = await resolveContext(globals);
  return { context, companyId: resolveCompanyId(context, company), configId: parsePositiveInt(id, 'config ID') };
}

export async function backupShow(id: string, options: { company?: string }, globals: GlobalOptions): Promise<void> {
  const { context, companyId, configId } = await configContext(id, options.company, globals);
  const config = await context.client.request<BackupConfig>('GET', `/companies/${companyId}/backup-configs/${configId}`);
  printResult(context.json, config, () => describeConfig(config));
}

export interface BackupUpdateOptions {
  company?: string;
  resource?: string;
  allResources?: boolean;
  name?: string;
  path?: string[];
  exclude?: string[];
  every?: string;
  cron?: string;
  enable?: boolean;
  disable?: boolean;
}

export async function backupUpdate(id: string, options: BackupUpdateOptions, globals: GlobalOptions): Promise<void> {
  const { context, companyId, configId } = await configContext(id, options.company, globals);
  const current = await context.client.request<BackupConfig>('GET', `/companies/${companyId}/backup-configs/${configId}`);
  if (options.enable && options.disable) throw invalidInput('Give either --enable or --disable, not both');

  const body: Record<string, unknown> = {};
  if (options.name !== undefined) body.name = options.name;
  if (options.enable) body.enable = true;
  if (options.disable) body.enable = false;
  if (options.resource !== undefined) body.resourceId = parsePositiveInt(options.resource, '--resource');
  if (options.allResources) body.resourceId = null;
  const schedule = scheduleFromFlags(options.every, options.cron);
  if (schedule) body.scheduleDetails = schedule;
  if (options.path !== undefined || options.exclude !== undefined) {
    body.pathDetails = {
      includePaths: options.path ? absolutePaths(options.path) : current.pathDetails.includePaths,
      excludePaths: options.exclude ?? current.pathDetails.excludePaths,
    };
  }
  const config = await context.client.request<BackupConfig>('PUT', `/companies/${companyId}/backup-configs/${configId}`, body);
  printResult(context.json, config, () => describeConfig(config));
}

export async function backupDelete(id: string, options: { company?: string }, globals: GlobalOptions): Promise<void> {
  const { context, companyId, configId } = await configContext(id, options.company, globals);
  const config = await context.client.request<BackupConfig>('DELETE', `/companies/${companyId}/backup-configs/${configId}`);
  printResult(context.json, config, () => `Backup config ${config.id} deleted; its snapshots stay restorable.`);
}
