import type { Logger } from '../src/logger.ts';
import { SyncctlError } from '../src/protocol/errors.ts';
import type { CoordinatorClient } from './coordinator-client.ts';
import type { PathChange } from './watcher/path-change.ts';

/** Maximum changes per `POST /agent/changes` request, as the coordinator's schema allows. */
const maxChangesPerRequest = 10_000;

/**
 * Maximum paths kept per config while the coordinator cannot be reached. Beyond it the config's
 * changes collapse to one `rescan` per include root, which makes the next run walk the roots.
 */
const maxHeldPaths = 100_000;

/**
 * Sends watcher and reconcile changes to `POST /agent/changes`, one config at a time. Changes
 * that cannot be sent are held in memory, merged by path, and sent again by `flush`, which the
 * agent calls after each reconnect. Changes of a config the coordinator rejects (deleted,
 * disabled, not for this resource) are dropped.
 */
export class ChangeReporter {
  private readonly client: CoordinatorClient;
  private readonly logger: Logger;
  private readonly held = new Map<number, Map<string, PathChange>>();
  private readonly rootsOf = new Map<number, readonly string[]>();
  private readonly sending = new Map<number, Promise<void>>();

  constructor(client: CoordinatorClient, logger: Logger) {
    this.client = client;
    this.logger = logger;
  }

  /** Records the include roots of a config, which an overflow collapses its changes to. */
  setRoots(configId: number, roots: readonly string[]): void {
    this.rootsOf.set(configId, roots);
  }

  /** Drops everything held for a config, such as after it was deleted. */
  forget(configId: number): void {
    this.held.delete(configId);
    this.rootsOf.delete(configId);
  }

  /**
   * Queues changes of a config and sends them. The promise resolves once they are sent or, when
   * sending failed, held for the next `flush`; it never rejects.
   */
  report(configId: number, changes: readonly PathChange[]): Promise<void> {
    if (changes.length === 0) return Promise.resolve();
    const held = this.held.get(configId) ?? new Map<string, PathChange>();
    for (const change of changes) held.set(change.path, change);
    this.held.set(configId, held);
    if (held.size > maxHeldPaths) this.collapse(configId, held);
    return this.send(configId);
  }

  /** Sends whatever is held, for every config. */
  async flush(): Promise<void> {
    await Promise.all([...this.held.keys()].map((configId) => this.send(configId)));
  }

  private collapse(configId: number, held: Map<string, PathChange>): void {
    const roots = this.rootsOf.get(configId) ?? [];
    if (roots.length === 0) return;
    held.clear();
    for (const root of roots) held.set(root, { path: root, kind: 'rescan' });
    this.logger.warn(
      { configId, maxHeldPaths },
      'too many unsent changes; the next run walks the include roots',
    );
  }

  /**
   * Sends the config's held changes; one send per config runs at a time, and a later call follows
   * it.
   */
  private send(configId: number): Promise<void> {
    const previous = this.sending.get(configId) ?? Promise.resolve();
    const next = previous.then(() => this.sendHeld(configId));
    this.sending.set(configId, next);
    void next.finally(() => {
      if (this.sending.get(configId) === next) this.sending.delete(configId);
    });
    return next;
  }

  private async sendHeld(configId: number): Promise<void> {
    const held = this.held.get(configId);
    if (held === undefined || held.size === 0) return;

    const changes = [...held.values()].slice(0, maxChangesPerRequest);
    try {
      await this.client.post('/agent/changes', { configId, changes }, { idempotent: true });
    } catch (error) {
      if (error instanceof SyncctlError && isRejection(error)) {
        this.logger.warn(
          { configId, changes: changes.length, err: error },
          'coordinator rejected changes; dropped them',
        );
        this.held.delete(configId);
        return;
      }
      this.logger.warn(
        { configId, held: held.size, err: error },
        'reporting changes failed; kept for the next reconnect',
      );
      return;
    }

    for (const change of changes) {
      if (held.get(change.path) === change) held.delete(change.path);
    }
    this.logger.debug({ configId, changes: changes.length }, 'changes reported');
    if (held.size === 0) this.held.delete(configId);
    else await this.sendHeld(configId);
  }
}

function isRejection(error: SyncctlError): boolean {
  return (
    error.code === 'notFound' ||
    error.code === 'forbidden' ||
    error.code === 'conflict' ||
    error.code === 'invalidInput'
  );
}
