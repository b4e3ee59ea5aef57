import type { ResourceView } from '../../protocol/resource.ts';
import { resolveCompanyId, resolveContext, type GlobalOptions } from '../context.ts';
import { formatTable, printResult } from '../output.ts';

/** Lists a company's resources with their online state. */
export async function resourceList(options: { company?: string }, globals: GlobalOptions): Promise<void> {
  const context = await resolveContext(globals);
  const companyId = resolveCompanyId(context, options.company);
  const resources = await context.client.request<ResourceView[]>('GET', `/companies/${companyId}/resources`);
  const rows = resources.map((r) => ({ id: r.id, name: r.name, online: r.online, lastSeenAt: r.lastSeenAt }));
  printResult(context.json, rows, () =>
    rows.length === 0
      ? 'No resources yet; start an agent with "syncctl agent start --installer FILE".'
      : formatTable(['ID', 'NAME', 'ONLINE', 'LAST SEEN'], rows.map((r) => [r.id, r.name, r.online ? 'yes' : 'no', r.lastSeenAt ?? '-'])),
  );
}
