import type { AgentSyncConfig, ShareDelivery, SyncDelivery } from '../../src/protocol/actions.ts';
import type { AgentConfigsResponse } from '../../src/protocol/agent-api.ts';
import type { AgentContext } from '../agent-context.ts';
import { receiveShare } from './share-download.ts';
import { applyDelivery } from './sync-destination.ts';
import { SyncRecords } from './sync-records.ts';
import { SyncSource } from './sync-source.ts';

/** Deliveries applied at once; more only add contention for the coordinator and the disk. */
const maxParallelApplies = 8;

function samePaths(a: AgentSyncConfig, b: AgentSyncConfig): boolean {
  return JSON.stringify([a.includePaths, a.excludePaths]) === JSON.stringify([b.includePaths, b.excludePaths]);
}

/**
 * Both sides of sync on this agent: one SyncSource per config it is the source of, and the
 * deliveries it applies as a destination, one at a time per path so that versions land in order.
 */
export class SyncManager {
  private readonly context: AgentContext;
  private readonly records: SyncRecords;
  private readonly sources = new Map<number, SyncSource>();
  private readonly pathQueues = new Map<string, Promise<unknown>>();
  private readonly orders = new Map<number, { barrier: Promise<unknown>; inFlight: Set<Promise<unknown>> }>();
  private changing: Promise<unknown> = Promise.resolve();
  private applying = 0;
  private readonly applySlots: (() => void)[] = [];

  constructor(context: AgentContext) {
    this.context = context;
    this.records = new SyncRecords(context.stateDir);
  }

  async load(): Promise<void> {
    await this.records.load();
  }

  /** Fetches the sync configs this resource is the source of and makes the running sources match. */
  onConnected(): void {
    this.context.client
      .get<AgentConfigsResponse>('/agent/configs')
      .then((response) => this.reconcile(response.syncConfigs))
      .catch((error: unknown) => this.context.logger.error({ err: error, resourceId: this.context.resourceId }, 'synchronizing sync configs failed'));
  }

  /** Makes the running sources match the configs the coordinator lists for this resource. */
  reconcile(configs: AgentSyncConfig[]): Promise<void> {
    return this.serialize(async () => {
      for (const configId of [...this.sources.keys()]) {
        if (!configs.some((config) => config.id === configId)) await this.stopSource(configId);
      }
      for (const config of configs) await this.watchNow(config, true);
    });
  }

  watch(config: AgentSyncConfig): Promise<void> {
    return this.serialize(() => this.watchNow(config, false));
  }

  unwatch(configId: number): Promise<void> {
    return this.serialize(() => this.stopSource(configId));
  }

  /**
   * Applies a delivery after any earlier one for the same path. A delete waits for every earlier
   * delivery of its config and holds back later ones, because it may remove their folder.
   */
  apply(delivery: SyncDelivery): Promise<unknown> {
    const key = `${delivery.configId}:${delivery.sourcePath}`;
    const order = this.configOrder(delivery.configId);
    const previous = this.pathQueues.get(key) ?? Promise.resolve();
    const start = delivery.type === 'deleted' ? Promise.all([previous, order.barrier, ...order.inFlight]) : Promise.all([previous, order.barrier]);
    const next = start.catch(() => undefined).then(() => this.limited(() => this.applyOrThrow(delivery)));
    this.pathQueues.set(key, next);
    order.inFlight.add(next);
    if (delivery.type === 'deleted') order.barrier = next.catch(() => undefined);
    void next.finally(() => {
      order.inFlight.delete(next);
      if (this.pathQueues.get(key) === next) this.pathQueues.delete(key);
    }).catch(() => undefined);
    return next;
  }

  /**
   * Applies a delivery and throws when it failed for a reason that may pass, such as a full disk,
   * so that its action stays unacknowledged and comes again after the next reconnect.
   */
  private async applyOrThrow(delivery: SyncDelivery): Promise<void> {
    const result = await applyDelivery(this.context, this.records, delivery);
    if (result.error !== null && result.rejected !== true) throw new Error(result.error);
  }

  /** Runs `task` once fewer than `maxParallelApplies` deliveries are being applied. */
  private async limited<T>(task: () => Promise<T>): Promise<T> {
    while (this.applying >= maxParallelApplies) await new Promise<void>((resolve) => this.applySlots.push(resolve));
    this.applying += 1;
    try {
      return await task();
    } finally {
      this.applying -= 1;
      this.applySlots.shift()?.();
    }
  }

  private configOrder(configId: number): { barrier: Promise<unknown>; inFlight: Set<Promise<unknown>> } {
    let order = this.orders.get(configId);
    if (!order) {
      order = { barrier: Promise.resolve(), inFlight: new Set() };
      this.orders.set(configId, order);
    }
    return order;
  }

  receiveShare(share: ShareDelivery): Promise<void> {
    return receiveShare(this.context, share);
  }

  async close(): Promise<void> {
    await this.serialize(async () => {
      for (const configId of [...this.sources.keys()]) await this.stopSource(configId);
    });
    await this.records.flush();
  }

  private serialize(change: () => Promise<void>): Promise<void> {
    const next = this.changing.catch(() => undefined).then(change);
    this.changing = next;
    return next;
  }

  /**
   * Starts a source, or replaces it when its paths changed. A source that is already running
   * for the same paths is left alone, except that a reconnect rescans it to catch up.
   */
  private async watchNow(config: AgentSyncConfig, rescanIfRunning: boolean): Promise<void> {
    const current = this.sources.get(config.id);
    if (current && samePaths(current.config, config)) {
      if (rescanIfRunning) await this.replaceSource(config);
      return;
    }
    await this.replaceSource(config);
  }

  private async replaceSource(config: AgentSyncConfig): Promise<void> {
    await this.stopSource(config.id);
    const source = new SyncSource(this.context, this.records, config);
    this.sources.set(config.id, source);
    source.start().catch((error: unknown) => this.context.logger.warn({ err: error, configId: config.id }, 'sync source start failed'));
  }

  private async stopSource(configId: number): Promise<void> {
    const source = this.sources.get(configId);
    if (!source) return;
    this.sources.delete(configId);
    await source.stop();
  }
}
