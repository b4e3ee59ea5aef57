import { spawn, type ChildProcess } from 'node:child_process';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const syncctl = fileURLToPath(new URL('../bin/syncctl', import.meta.url));

/** A coordinator and CLI environment in a scratch folder, for benchmarks. */
export class BenchCluster {
  readonly root: string;
  readonly adminToken = randomBytes(16).toString('hex');
  url = '';
  companyId = 0;
  private readonly children: ChildProcess[] = [];

  constructor(root: string) {
    this.root = root;
  }

  get env(): NodeJS.ProcessEnv {
    return { ...process.env, SYNCCTL_CONFIG_DIR: path.join(this.root, 'cli'), SYNCCTL_SERVER: this.url, SYNCCTL_ADMIN_TOKEN: this.adminToken, SYNCCTL_LOG_LEVEL: process.env.SYNCCTL_LOG_LEVEL ?? 'warn' };
  }

  async start(): Promise<void> {
    const dataDir = path.join(this.root, 'coordinator');
    this.spawn(['coordinator', 'start', '--port', '0', '--data-dir', dataDir]);
    const runtime = path.join(dataDir, 'coordinator.json');
    for (let attempt = 0; attempt < 200; attempt += 1) {
      const text = await fs.readFile(runtime, 'utf8').catch(() => null);
      if (text) {
        this.url = (JSON.parse(text) as { url: string }).url;
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    if (this.url === '') throw new Error('coordinator did not start within 10 s');
    const company = await this.cliJson<{ companyId: number }>(['company', 'register', '--name', 'bench', '--email', 'bench@example.com', '--password', 'benchmark-password']);
    this.companyId = company.companyId;
    await this.cli(['login', '--email', 'bench@example.com', '--password', 'benchmark-password']);
  }

  /** Starts an agent and returns its resource id once it is online. */
  async startAgent(name: string): Promise<{ resourceId: number; child: ChildProcess }> {
    const installerDir = path.join(this.root, `installer-${name}`);
    const { path: installer } = await this.cliJson<{ path: string }>(['company', 'installer', '--out', installerDir]);
    const child = this.spawn(['agent', 'start', '--installer', installer, '--state-dir', path.join(this.root, `agent-${name}`), '--name', name]);
    for (let attempt = 0; attempt < 200; attempt += 1) {
      const resources = await this.cliJson<{ id: number; name: string; online: boolean }[]>(['resource', 'list']);
      const resource = resources.find((r) => r.name === name && r.online);
      if (resource) return { resourceId: resource.id, child };
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`agent ${name} did not come online within 20 s`);
  }

  async cli(args: string[]): Promise<string> {
    const { stdout } = await run(syncctl, args, { env: this.env, maxBuffer: 64 << 20 });
    return stdout;
  }

  async cliJson<T>(args: string[]): Promise<T> {
    return JSON.parse(await this.cli([...args, '--json'])) as T;
  }

  async stop(): Promise<void> {
    for (const child of this.children.reverse()) {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    }
  }

  private spawn(args: string[]): ChildProcess {
    const child = spawn(syncctl, args, { env: this.env, stdio: ['ignore', process.env.BENCH_LOGS ? 'inherit' : 'ignore', 'inherit'] });
    this.children.push(child);
    return child;
  }
}

export function percentile(values: number[], fraction: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(fraction * sorted.length) - 1));
  return sorted[index];
}
