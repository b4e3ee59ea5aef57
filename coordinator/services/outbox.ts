import { sql } from 'kysely';
import type { AgentAction } from '../../src/protocol/actions.ts';
import type { Db } from '../db/open-database.ts';
import { inInsertOrder, rowsPerStatement } from '../db/batches.ts';
import { nowIso } from './secrets.ts';
import { signedUrlTtlSeconds, type ServiceDeps } from './service-deps.ts';

export interface QueuedAction {
  id: number;
  action: AgentAction;
}

/** An action to store for one resource. */
export interface ActionRequest {
  resourceId: number;
  action: AgentAction;
}

/** An action stored in the outbox and not yet handed to the relay. */
export interface StoredAction extends QueuedAction {
  resourceId: number;
}

/** Columns of an outbox row that an insert binds. */
const outboxInsertColumns = 8;

/**
 * Stores an action for a resource and hands it to the relay. The row stays until the agent
 * acknowledges it, so an offline agent or a coordinator restart loses nothing. An action with a
 * `coalesceKey` replaces any unacknowledged one with the same key, so an agent that was offline
 * gets the latest state of a path, not every version in between.
 */
export async function enqueueAction(deps: ServiceDeps, resourceId: number, action: AgentAction, coalesceKey?: string): Promise<number> {
  if (coalesceKey !== undefined) await supersedeActions(deps, resourceId, coalesceKey);
  const [stored] = await insertOutboxRows(deps.db, [{ resourceId, action }], coalesceKey ?? null);
  deps.logger.debug({ resourceId, actionId: stored.id, kind: action.kind }, 'action queued');
  await deliverActions(deps, [stored]);
  return stored.id;
}

/**
 * Stores many actions in one transaction and then hands them to the relay in the order given,
 * so the actions of each resource reach its agent in outbox order.
 */
export async function enqueueActions(deps: ServiceDeps, requests: ActionRequest[]): Promise<StoredAction[]> {
  if (requests.length === 0) return [];
  const stored = await deps.db.transaction().execute((trx) => insertActions(trx, requests));
  await deliverActions(deps, stored);
  return stored;
}

/**
 * Inserts outbox rows with multi-row statements on `db`, which may be an open transaction, and
 * returns them with their ids in the order of `requests`. The caller delivers them with
 * `deliverActions` once the transaction has committed, so nothing is sent that could still be
 * rolled back.
 */
export async function insertActions(db: Db, requests: ActionRequest[]): Promise<StoredAction[]> {
  return insertOutboxRows(db, requests, null);
}

async function insertOutboxRows(db: Db, requests: ActionRequest[], coalesceKey: string | null): Promise<StoredAction[]> {
  const stored: StoredAction[] = [];
  const now = nowIso();
  const chunkSize = rowsPerStatement(outboxInsertColumns);
  for (let start = 0; start < requests.length; start += chunkSize) {
    const chunk = requests.slice(start, start + chunkSize);
    const rows = await db
      .insertInto('outbox')
      .values(
        chunk.map(({ resourceId, action }) => ({
          resource_id: resourceId,
          kind: action.kind,
          payload_json: JSON.stringify(action),
          created_at: now,
          delivered_at: null,
          acked_at: null,
          coalesce_key: coalesceKey,
        })),
      )
      .returning(['id', 'resource_id'])
      .execute();
    const ordered = inInsertOrder(rows, chunk.map((request) => request.resourceId), 'outbox');
    chunk.forEach((request, index) => stored.push({ id: ordered[index].id, resourceId: request.resourceId, action: request.action }));
  }
  return stored;
}

/** Hands stored actions to the relay in the order given. Call it after their rows have committed. */
export async function deliverActions(deps: ServiceDeps, stored: StoredAction[]): Promise<void> {
  const outgoing = [];
  for (const item of stored) {
    const action = carriesContent(item.action) ? await withSignedUrls(deps, item.resourceId, item.action) : item.action;
    outgoing.push({ resourceId: item.resourceId, outgoing: { id: item.id, action } });
  }
  deps.relay.deliverMany(outgoing);
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

interface PendingAck {
  resourceId: number;
  actionId: number;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/** Acknowledgements waiting for the next flush, per database. */
const pendingAcks = new WeakMap<Db, PendingAck[]>();

/** Bound parameters per acknowledgement in the batched update: the id twice and the resource id. */
const ackParameters = 3;

/**
 * Marks an action acknowledged by its resource. An id of another resource's action changes
 * nothing. Acknowledgements that arrive in the same event-loop turn are written together in one
 * transaction, and the returned promise settles when that transaction has.
 */
export function ackAction(deps: ServiceDeps, resourceId: number, actionId: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let batch = pendingAcks.get(deps.db);
    if (batch === undefined) {
      const created: PendingAck[] = [];
      pendingAcks.set(deps.db, created);
      setImmediate(() => void flushAcks(deps, created));
      batch = created;
    }
    batch.push({ resourceId, actionId, resolve, reject });
  });
}

async function flushAcks(deps: ServiceDeps, batch: PendingAck[]): Promise<void> {
  if (pendingAcks.get(deps.db) === batch) pendingAcks.delete(deps.db);
  try {
    const now = nowIso();
    // One parameter is acked_at.
    const chunkSize = Math.floor((rowsPerStatement(1) - 1) / ackParameters);
    await deps.db.transaction().execute(async (trx) => {
      for (let start = 0; start < batch.length; start += chunkSize) {
        const chunk: { actionId: number; resourceId: number }[] = batch.slice(start, start + chunkSize);
        // Padding to a power of two keeps the number of distinct SQL texts, and so of prepared
        // statements in the connection's cache, small. Outbox ids start at 1, so id 0 matches nothing.
        const padded = Math.min(chunkSize, 2 ** Math.ceil(Math.log2(chunk.length)));
        while (chunk.length < padded) chunk.push({ actionId: 0, resourceId: 0 });
        const pairs = sql.join(chunk.map((ack) => sql`(${ack.actionId}, ${ack.resourceId})`));
        await trx
          .updateTable('outbox')
          .set({ acked_at: now })
          .where('id', 'in', chunk.map((ack) => ack.actionId))
          .where(sql<boolean>`(id, resource_id) in (values ${pairs})`)
          .execute();
      }
    });
  } catch (error) {
    for (const ack of batch) ack.reject(error);
    return;
  }
  for (const ack of batch) ack.resolve();
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

function carriesContent(action: AgentAction): boolean {
  return action.kind === 'sync_apply' || action.kind === 'download';
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
