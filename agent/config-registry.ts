import type { AgentBackupConfig } from '../src/protocol/actions.ts';
import type { AgentContext } from './agent-context.ts';
import { fsErrorCode } from './fs-error-code.ts';
import { ConfigWatcher } from './watcher/config-watcher.ts';
import { createPathFilter, type PathFilter } from './watcher/path-filter.ts';

/** A backup config this agent serves, with its path filter and its running watcher. */
export interface WatchedConfig {
  config: AgentBackupConfig;
  filter: PathFilter;
  watcher: ConfigWatcher;
  /**
   * Include roots that came back or were replaced since the last commit. Their new files may
   * match the old size and mtime, so the next backup hashes every file below them.
   */
  rehashRoots: Set<string>;
}

/** The outcome of `upsert`: a new watcher, a watcher replaced for new paths, or unchanged paths. */
export type UpsertOutcome = 'added' | 'pathsChanged' | 'unchanged';

/**
 * The configs this agent serves, one watcher each, keyed by config id. Watcher changes go to
 * `context.reportChanges`.
 */
export class ConfigRegistry {
  private readonly context: AgentContext;
  private readonly configs = new Map<number, WatchedConfig>();
  /**
   * Tail of the queue that runs changes to the set one at a time, so no watcher is created twice.
   */
  private changing: Promise<unknown> = Promise.resolve();

  constructor(context: AgentContext) {
    this.context = context;
  }

  get(configId: number): WatchedConfig | undefined {
    return this.configs.get(configId);
  }

  ids(): number[] {
    return [...this.configs.keys()];
  }

  /**
   * Adds a config, or updates it and replaces its watcher when its include or exclude paths
   * changed.
   */
  upsert(config: AgentBackupConfig): Promise<UpsertOutcome> {
    return this.serialize(() => this.upsertNow(config));
  }

  /**
   * Stops a config's watcher and removes the config. Returns false when the config was not served.
   */
  remove(configId: number): Promise<boolean> {
    return this.serialize(() => this.removeNow(configId));
  }

  async closeAll(): Promise<void> {
    for (const configId of this.ids()) await this.remove(configId);
  }

  private serialize<T>(change: () => Promise<T>): Promise<T> {
    const next = this.changing.catch(() => undefined).then(change);
    this.changing = next;
    return next;
  }

  private async upsertNow(config: AgentBackupConfig): Promise<UpsertOutcome> {
    const current = this.configs.get(config.id);
    if (current !== undefined && samePaths(current.config, config)) {
      current.config = config;
      return 'unchanged';
    }

    if (current !== undefined) await this.removeNow(config.id);
    const filter = createPathFilter({
      includePaths: config.includePaths,
      excludePaths: config.excludePaths,
      alwaysExcluded: this.context.alwaysExcluded,
    });
    const rehashRoots = new Set<string>();
    const watcher = this.createWatcher(config.id, filter, rehashRoots);
    this.configs.set(config.id, { config, filter, watcher, rehashRoots });
    await watcher.start();
    this.context.logger.info(
      { configId: config.id, paths: filter.roots, excludePaths: config.excludePaths },
      'watcher started',
    );
    return current === undefined ? 'added' : 'pathsChanged';
  }

  private async removeNow(configId: number): Promise<boolean> {
    const current = this.configs.get(configId);
    if (current === undefined) return false;
    this.configs.delete(configId);
    await current.watcher.close();
    this.context.logger.info({ configId, paths: current.filter.roots }, 'watcher stopped');
    return true;
  }

  private createWatcher(
    configId: number,
    filter: PathFilter,
    rehashRoots: Set<string>,
  ): ConfigWatcher {
    const { logger } = this.context;
    const watcher = new ConfigWatcher(filter);
    watcher.on('changes', (changes) => this.context.reportChanges(configId, changes));
    watcher.on('root', (root, present) => {
      if (present) rehashRoots.add(root);
      if (present) {
        logger.info({ configId, root }, 'include path is back or was replaced; watching it again');
      } else {
        logger.warn(
          { configId, root },
          'include path is missing; its backup is kept until it is back',
        );
      }
    });
    watcher.on('error', (error) => {
      // Files that vanish between an event and the watcher's lstat are normal while they come and go.
      const code = fsErrorCode(error);
      if (code === 'ENOENT' || code === 'ENOTDIR') {
        logger.debug({ configId, err: error }, 'watcher error');
      } else {
        logger.warn({ configId, err: error }, 'watcher error');
      }
    });
    return watcher;
  }
}

function samePaths(a: AgentBackupConfig, b: AgentBackupConfig): boolean {
  const same = (x: readonly string[], y: readonly string[]): boolean =>
    x.length === y.length && x.every((value, index) => value === y[index]);
  return same(a.includePaths, b.includePaths) && same(a.excludePaths, b.excludePaths);
}
