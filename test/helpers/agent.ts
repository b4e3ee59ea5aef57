import { chown } from 'node:fs/promises';
import path from 'node:path';
import { deferCleanup } from './cleanup.ts';
import { childEnv, ManagedProcess, type LogLine, type ProcessUser } from './processes.ts';
import { makeTempDir } from './temp.ts';

export interface AgentOptions {
  /** Name the agent enrolls under; also labels its log in error messages. */
  name: string;
  /** Installer file; needed on the first start only. */
  installer?: string;
  /** State folder; a new temp folder when omitted. */
  stateDir?: string;
  env?: Record<string, string>;
  /** Runs the agent as another user; its state folder must be writable by that user. */
  user?: ProcessUser;
}

/** Log message of the agent once its websocket to the coordinator is open. */
export const agentConnectedMessage = 'agent connected';

/**
 * A real agent process (`syncctl agent start`) with its own state folder. A restart runs a new
 * process on the same state folder without `--installer`, as a machine's service would.
 */
export class Agent {
  readonly name: string;
  readonly stateDir: string;
  process!: ManagedProcess;
  /** Processes of earlier starts, oldest first. */
  readonly earlierProcesses: ManagedProcess[] = [];
  private readonly options: AgentOptions;

  private constructor(stateDir: string, options: AgentOptions) {
    this.name = options.name;
    this.stateDir = stateDir;
    this.options = options;
  }

  /** Starts an agent and waits for its "agent connected" log line. */
  static async start(options: AgentOptions): Promise<Agent> {
    const stateDir = options.stateDir ?? (await makeTempDir(`agent-${options.name}`));
    if (options.user?.uid !== undefined) await chown(stateDir, options.user.uid, options.user.gid ?? options.user.uid);
    const agent = new Agent(stateDir, options);
    deferCleanup(() => agent.stop());
    agent.spawn(options.installer);
    await agent.waitConnected();
    return agent;
  }

  get logs(): LogLine[] {
    return this.process.logs;
  }

  get statePath(): string {
    return path.join(this.stateDir, 'state.json');
  }

  /** Waits until the running process has logged "agent connected" `count` times. */
  async waitConnected(count = 1, timeoutMs = 30_000): Promise<void> {
    await this.process.waitForLog(agentConnectedMessage, {}, { count, timeoutMs });
  }

  /** Stops the agent with SIGTERM, waiting for it to exit. */
  async stop(): Promise<void> {
    await this.process.stop();
  }

  /** Starts a new process on the same state folder, without the installer, and waits for it to connect. */
  async start(): Promise<void> {
    if (this.process.running) throw new Error(`agent ${this.name} is still running; stop it first`);
    this.earlierProcesses.push(this.process);
    this.spawn(undefined);
    await this.waitConnected();
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /** Freezes the process with SIGSTOP: its connection stays open but goes silent. */
  pause(): void {
    this.process.pause();
  }

  resume(): void {
    this.process.resume();
  }

  private spawn(installer: string | undefined): void {
    const args = ['agent', 'start', '--state-dir', this.stateDir, '--name', this.name];
    if (installer) args.push('--installer', installer);
    const env = childEnv({ SYNCCTL_CONFIG_DIR: path.join(this.stateDir, 'cli-config'), ...this.options.env });
    this.process = ManagedProcess.start(`agent ${this.name}`, args, env, { owned: true, user: this.options.user });
  }
}
