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
  | { kind: 'restore'; runId: number };

/** Coordinator to agent. Every action is kept in the coordinator's outbox until the agent acks it. */
export type ServerMessage =
  | { type: 'hello'; resourceId: number; heartbeatMs: number }
  | { type: 'action'; id: number; action: AgentAction };

/** Agent to coordinator. */
export type AgentMessage = { type: 'ack'; id: number };

export const agentSocketPath = '/agent/ws';
