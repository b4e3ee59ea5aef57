import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { deferCleanup } from './cleanup.ts';
import { childEnv, ManagedProcess, type LogLine } from './processes.ts';
import { makeTempDir } from './temp.ts';
import { waitFor } from './wait.ts';

export interface CoordinatorOptions {
  /** Data folder; a new temp folder when omitted. */
  dataDir?: string;
  /**
   * Value of SYNCCTL_ADMIN_TOKEN at start. A random token when omitted; `null` starts the
   * coordinator without the variable, so that it generates `DATA_DIR/admin-token` itself.
   */
  adminToken?: string | null;
  /** Port to listen on; 0 (a free port) when omitted. */
  port?: number;
  /** Extra environment variables of the coordinator process. */
  env?: Record<string, string>;
}

/** The contents of `DATA_DIR/coordinator.json`, written once the coordinator listens. */
interface CoordinatorInfo {
  url: string;
  pid: number;
}

/**
 * A real coordinator process on 127.0.0.1 with its own data folder. `restart()` stops it and
 * starts a new process on the same folder and port, so that agents find it again.
 */
export class Coordinator {
  readonly dataDir: string;
  url = '';
  port = 0;
  adminToken = '';
  process!: ManagedProcess;
  /** Processes of earlier starts on this data folder, oldest first. */
  readonly earlierProcesses: ManagedProcess[] = [];
  private readonly options: CoordinatorOptions;

  constructor(dataDir: string, options: CoordinatorOptions) {
    this.dataDir = dataDir;
    this.options = options;
  }

  /** Log lines of the running process. */
  get logs(): LogLine[] {
    return this.process.logs;
  }

  async start(): Promise<void> {
    const port = this.port || this.options.port || 0;
    const adminToken = this.options.adminToken;
    const args = ['coordinator', 'start', '--host', '127.0.0.1', '--port', String(port), '--data-dir', this.dataDir];
    const env = childEnv({
      SYNCCTL_CONFIG_DIR: path.join(this.dataDir, 'cli-config'),
      SYNCCTL_ADMIN_TOKEN: adminToken ?? undefined,
      ...this.options.env,
    });
    this.process = ManagedProcess.start(`coordinator on ${this.dataDir}`, args, env, { owned: true });

    const info = await this.waitUntilReady();
    this.url = info.url;
    this.port = Number(new URL(info.url).port);
    this.adminToken = adminToken ?? (await readFile(path.join(this.dataDir, 'admin-token'), 'utf8')).trim();
  }

  /** Stops the coordinator with SIGTERM and starts it again on the same data folder and port. */
  async restart(): Promise<void> {
    await this.stop();
    this.earlierProcesses.push(this.process);
    await this.start();
  }

  async stop(): Promise<void> {
    await this.process?.stop();
  }

  private async waitUntilReady(): Promise<CoordinatorInfo> {
    const infoPath = path.join(this.dataDir, 'coordinator.json');
    return waitFor(
      async () => {
        const info = JSON.parse(await readFile(infoPath, 'utf8')) as CoordinatorInfo;
        // A file left by an earlier process on this folder does not count.
        if (info.pid !== this.process.pid) return undefined;

        const response = await fetch(new URL('/healthz', info.url));
        return response.status === 200 ? info : undefined;
      },
      {
        what: `the coordinator to write ${infoPath} and answer 200 on GET /healthz`,
        timeoutMs: 30_000,
        failIf: () => this.process.exitReason(),
        context: () => this.process.describe(),
      },
    );
  }
}

/** Starts a coordinator and stops it when the current test or file ends. */
export async function startCoordinator(options: CoordinatorOptions = {}): Promise<Coordinator> {
  const dataDir = options.dataDir ?? (await makeTempDir('coordinator'));
  const adminToken = options.adminToken === undefined ? randomBytes(24).toString('hex') : options.adminToken;
  const coordinator = new Coordinator(dataDir, { ...options, adminToken });
  deferCleanup(() => coordinator.stop());
  await coordinator.start();
  return coordinator;
}
