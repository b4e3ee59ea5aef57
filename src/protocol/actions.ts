/** A backup config as an agent needs it: the paths to watch and the last committed snapshot. */
export interface AgentBackupConfig {
  id: number;
  name: string;
  companyId: number;
  includePaths: string[];
  excludePaths: string[];
  lastSnapshotId: number | null;
}

/** Actions the coordinator sends to an agent. Names match the original system's action names. */
export type AgentAction =
  | { kind: 'add_config'; config: AgentBackupConfig }
  | { kind: 'update_config'; config: AgentBackupConfig; pathsChanged: boolean }
  | { kind: 'delete_config'; configId: number }
  | { kind: 'backup'; runId: number; configId: number }
  | { kind: 'restore'; runId: number }
  | { kind: 'sync_watch'; config: AgentSyncConfig }
  | { kind: 'sync_unwatch'; configId: number }
  | { kind: 'sync_apply'; delivery: SyncDelivery }
  | { kind: 'download'; share: ShareDelivery };

/** A sync config as its source agent needs it. */
export interface AgentSyncConfig {
  id: number;
  name: string;
  includePaths: string[];
  excludePaths: string[];
}

/**
 * One path for a destination to bring to the source's state. The destination writes at
 * `root` joined with `relativePath` and nowhere else; `root` is the mapped folder or the include
 * path itself. `type: "deleted"` removes the path.
 */
export interface SyncDelivery {
  configId: number;
  version: number;
  sourcePath: string;
  root: string;
  relativePath: string;
  type: 'file' | 'dir' | 'symlink' | 'deleted';
  hash: string | null;
  size: number;
  mode: number;
  mtimeMs: number;
  target: string | null;
  /** Bucket key of the content, for files. */
  key: string | null;
  /** Signed GET URL of `key`, signed when the action was sent; request a new one if it expired. */
  url?: string;
}

/** A file sent to one resource with `syncctl share`. */
export interface ShareDelivery {
  shareId: number;
  fileName: string;
  hash: string;
  size: number;
  key: string;
  /** Signed GET URL of `key`, signed when the action was sent; request a new one if it expired. */
  url?: string;
  /** Folder to write into; null means the agent's downloads folder. */
  targetDir: string | null;
}

/** Coordinator to agent. Every action is kept in the coordinator's outbox until the agent acks it. */
export type ServerMessage =
  | { type: 'hello'; resourceId: number; heartbeatMs: number }
  | { type: 'action'; id: number; action: AgentAction };

/** Agent to coordinator. */
export type AgentMessage = { type: 'ack'; id: number };

export const agentSocketPath = '/agent/ws';
