import { sql } from 'kysely';
import type { AgentAction } from '../../src/protocol/actions.ts';
import { nowIso } from './secrets.ts';
import { signedUrlTtlSeconds, type ServiceDeps } from './service-deps.ts';

export interface QueuedAction {
  id: number;
  action: AgentAction;
}

/**
 * Stores an action for a resource and hands it to the relay. The row stays until the agent
 * acknowledges it, so an offline agent or a coordinator restart loses nothing. An action with a
 * `coalesceKey` replaces any unacknowledged one with the same key, so an agent that was offline
 * gets the latest state of a path, not every version in between.
 */
export async function enqueueAction(deps: ServiceDeps, resourceId: number, action: AgentAction, coalesceKey?: string): Promise<number> {
  if (coalesceKey !== undefined) await supersedeActions(deps, resourceId, coalesceKey);
  const row = await deps.db
    .insertInto('outbox')
    .values({ resource_id: resourceId, kind: action.kind, payload_json: JSON.stringify(action), created_at: nowIso(), delivered_at: null, acked_at: null, coalesce_key: coalesceKey ?? null })
    .returning('id')
    .executeTakeFirstOrThrow();

  deps.logger.debug({ resourceId, actionId: row.id, kind: action.kind }, 'action queued');
  deps.relay.deliver(resourceId, { id: row.id, action: await withSignedUrls(deps, resourceId, action) });
  return row.id;
}

export async function unackedActions(deps: ServiceDeps, resourceId: number): Promise<QueuedAction[]> {
  const rows = await deps.db
    .selectFrom('outbox')
    .select(['id', 'payload_json'])
    .where('resource_id', '=', resourceId)
    .where('acked_at', 'is', null)
    .orderBy('id')
    .execute();
  const actions: QueuedAction[] = [];
  for (const row of rows) actions.push({ id: row.id, action: await withSignedUrls(deps, resourceId, JSON.parse(row.payload_json) as AgentAction) });
  return actions;
}

export async function markActionDelivered(deps: ServiceDeps, actionId: number): Promise<void> {
  await deps.db.updateTable('outbox').set({ delivered_at: nowIso() }).where('id', '=', actionId).execute();
}

export async function ackAction(deps: ServiceDeps, resourceId: number, actionId: number): Promise<void> {
  await deps.db
    .updateTable('outbox')
    .set({ acked_at: nowIso() })
    .where('id', '=', actionId)
    .where('resource_id', '=', resourceId)
    .execute();
}

/**
 * Drops the unacknowledged actions of a resource whose coalesce key is `key`, and with
 * `withChildren` also those whose key continues with "/" (the paths below a folder).
 */
export async function supersedeActions(deps: ServiceDeps, resourceId: number, key: string, withChildren = false): Promise<void> {
  const prefix = `${key}/`;
  await deps.db
    .updateTable('outbox')
    .set({ acked_at: nowIso() })
    .where('resource_id', '=', resourceId)
    .where('acked_at', 'is', null)
    .where((eb) =>
      withChildren
        ? eb.or([eb('coalesce_key', '=', key), eb(sql<string>`substr(coalesce_key, 1, ${prefix.length})`, '=', prefix)])
        : eb('coalesce_key', '=', key),
    )
    .execute();
}

/**
 * Adds a freshly signed download URL to actions that carry content, at the moment they are sent,
 * so an action that waited in the outbox never carries an expired URL and the agent needs no
 * extra request for one.
 */
async function withSignedUrls(deps: ServiceDeps, resourceId: number, action: AgentAction): Promise<AgentAction> {
  let key: string | null = null;
  if (action.kind === 'sync_apply') key = action.delivery.key;
  if (action.kind === 'download') key = action.share.key;
  if (key === null) return action;
  const resource = await deps.db
    .selectFrom('resources')
    .innerJoin('companies', 'companies.id', 'resources.company_id')
    .select('companies.bucket')
    .where('resources.id', '=', resourceId)
    .executeTakeFirst();
  if (!resource) return action;
  const url = deps.store.signUrl(resource.bucket, key, 'get', signedUrlTtlSeconds);
  if (action.kind === 'sync_apply') return { ...action, delivery: { ...action.delivery, url } };
  if (action.kind === 'download') return { ...action, share: { ...action.share, url } };
  return action;
}
