import type { Selectable } from 'kysely';
import { SyncctlError, invalidInput, notFound } from '../../src/protocol/errors.ts';
import type { RegisterResourceInput, RegisterResourceResult, ResourceView } from '../../src/protocol/resource.ts';
import type { ResourcesTable } from '../db/schema.ts';
import { getCompany } from './companies.ts';
import { generateToken, hashToken, nowIso } from './secrets.ts';
import type { ServiceDeps } from './service-deps.ts';
import { attachCompanyWideConfigs } from './config-mappings.ts';

export type ResourceRow = Selectable<ResourcesTable>;

/** Enrolls a machine with its company's enrollment secret and applies the company-wide configs. */
export async function registerResource(deps: ServiceDeps, input: RegisterResourceInput): Promise<RegisterResourceResult> {
  const company = await getCompany(deps, input.companyId);
  if (hashToken(input.enrollmentSecret) !== company.enrollment_secret_hash) {
    throw new SyncctlError('forbidden', `Invalid enrollment secret for company ${input.companyId}; download the installer again`);
  }

  const token = generateToken();
  const resource = await deps.db
    .insertInto('resources')
    .values({
      company_id: company.id,
      name: input.name,
      hostname: input.hostname ?? null,
      platform: input.platform ?? null,
      token_hash: hashToken(token),
      online: 0,
      last_seen_at: null,
      created_at: nowIso(),
    })
    .returning('id')
    .executeTakeFirstOrThrow();

  deps.logger.info({ companyId: company.id, resourceId: resource.id, name: input.name }, 'resource registered');
  await attachCompanyWideConfigs(deps, company.id, resource.id);
  return { resourceId: resource.id, token };
}

/** Returns the resource whose token this is, or null. */
export async function authenticateResource(deps: ServiceDeps, token: string): Promise<ResourceRow | null> {
  const row = await deps.db.selectFrom('resources').selectAll().where('token_hash', '=', hashToken(token)).executeTakeFirst();
  return row ?? null;
}

export async function getResource(deps: ServiceDeps, resourceId: number): Promise<ResourceRow> {
  const row = await deps.db.selectFrom('resources').selectAll().where('id', '=', resourceId).executeTakeFirst();
  if (!row) throw notFound(`Resource ${resourceId} not found; list resources with "syncctl resource list"`);
  return row;
}

/** Loads a resource and checks it belongs to `companyId`; `field` names the input it came from. */
export async function getCompanyResource(deps: ServiceDeps, companyId: number, resourceId: number, field: string): Promise<ResourceRow> {
  const row = await deps.db.selectFrom('resources').selectAll().where('id', '=', resourceId).executeTakeFirst();
  if (!row) throw notFound(`Resource ${resourceId} given as "${field}" not found; list resources with "syncctl resource list"`);
  if (row.company_id !== companyId) {
    throw invalidInput(`Resource ${resourceId} given as "${field}" belongs to another company`);
  }
  return row;
}

export async function listResources(deps: ServiceDeps, companyId: number): Promise<ResourceView[]> {
  await getCompany(deps, companyId);
  const rows = await deps.db.selectFrom('resources').selectAll().where('company_id', '=', companyId).orderBy('id').execute();
  return rows.map(toResourceView);
}

export function toResourceView(row: ResourceRow): ResourceView {
  return {
    id: row.id,
    companyId: row.company_id,
    name: row.name,
    hostname: row.hostname,
    online: row.online === 1,
    lastSeenAt: row.last_seen_at,
    createdAt: row.created_at,
  };
}

export async function markResourceOnline(deps: ServiceDeps, resourceId: number, online: boolean): Promise<void> {
  await deps.db
    .updateTable('resources')
    .set({ online: online ? 1 : 0, last_seen_at: nowIso() })
    .where('id', '=', resourceId)
    .execute();
}

/** Marks every resource offline; at start no agent is connected yet. */
export async function markAllResourcesOffline(deps: ServiceDeps): Promise<void> {
  await deps.db.updateTable('resources').set({ online: 0 }).where('online', '=', 1).execute();
}
