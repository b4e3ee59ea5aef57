import type { Logger } from '../src/logger.ts';
import type { CoordinatorClient } from './coordinator-client.ts';
import type { ManifestCache } from './manifest-cache.ts';
import type { PathChange } from './watcher/path-change.ts';

/** What the parts of a running agent share: its identity, its coordinator and its state folder. */
export interface AgentContext {
  client: CoordinatorClient;
  resourceId: number;
  companyId: number;
  stateDir: string;
  manifests: ManifestCache;
  logger: Logger;
  /** Absolute paths that no config backs up or watches: the agent's own state folder. */
  alwaysExcluded: string[];
  /** Queues paths of a config for `POST /agent/changes`, kept and retried until the coordinator has them. */
  reportChanges(configId: number, changes: readonly PathChange[]): void;
}
