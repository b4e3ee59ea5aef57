import type { Logger } from '../src/logger.ts';
import type { CoordinatorClient } from './coordinator-client.ts';
import type { ManifestCache } from './manifest-cache.ts';
import type { PathChange } from './watcher/path-change.ts';

/** The identity, coordinator client and state folder shared by the parts of a running agent. */
export interface AgentContext {
  client: CoordinatorClient;
  /**
   * The resource token, for requests that `client` cannot send, such as streamed uploads. Never log
   * it.
   */
  token: string;
  resourceId: number;
  companyId: number;
  stateDir: string;
  manifests: ManifestCache;
  logger: Logger;
  /** Absolute paths that no config backs up or watches: the agent's own state folder. */
  alwaysExcluded: string[];
  /**
   * Queues paths of a config for `POST /agent/changes`, kept and retried until the coordinator has
   * them.
   */
  reportChanges(configId: number, changes: readonly PathChange[]): void;
}
