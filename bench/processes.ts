import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { LoginResult, RegisterCompanyResult } from '../src/protocol/company.ts';
import type { ResourceView } from '../src/protocol/resource.ts';

const execFileAsync = promisify(execFile);
export const syncctl = fileURLToPath(new URL('../bin/syncctl', import.meta.url));

export interface BenchClusterOptions {
  /**
   * Folder for `node --cpu-prof` profiles of the coordinator and agents. A process writes its
   * profile when it exits after SIGTERM.
   */
  cpuProfileDir?: string;
  /** Extra environment for the coordinator and agents. */
  env?: Record<string, string>;
}

/** A company registered for a benchmark, with its first user's session token. */
export interface BenchCompany {
  id: number;
  email: string;
  token: string;
}

/** A running agent process. */
export interface BenchAgent {
  name: string;
  resourceId: number;
  child: ChildProcess;
  stateDir: string;
}

const password = 'benchmark-password';

/**
 * A coordinator with one company in a scratch folder, agents enrolled in it, and a client for its
 * HTTP API. Processes run `bin/syncctl` under the current node binary, as `syncctl coordinator
 * start` and `syncctl agent start` would.
 */
export class BenchCluster {
  readonly root: string;
  readonly adminToken = randomBytes(16).toString('hex');
  url = '';
  /** The company registered by `start`. */
  company: BenchCompany = { id: 0, email: '', token: '' };
  coordinator: ChildProcess | null = null;
  private readonly options: BenchClusterOptions;
  private readonly children: ChildProcess[] = [];
  private loggedInCli = false;
  private companies = 0;

  constructor(root: string, options: BenchClusterOptions = {}) {
    this.root = root;
    this.options = options;
  }

  get companyId(): number {
    return this.company.id;
  }

  /** Environment for the CLI, logged in as the first company's user. */
  get env(): NodeJS.ProcessEnv {
    return {
      ...process.env,
      ...this.options.env,
      SYNCCTL_CONFIG_DIR: path.join(this.root, 'cli'),
      SYNCCTL_SERVER: this.url,
      SYNCCTL_ADMIN_TOKEN: this.adminToken,
      SYNCCTL_LOG_LEVEL: process.env.SYNCCTL_LOG_LEVEL ?? 'warn',
    };
  }

  /** Starts the coordinator and registers the first company. */
  async start(): Promise<void> {
    const dataDir = path.join(this.root, 'coordinator');
    this.coordinator = this.spawn('coordinator', ['coordinator', 'start', '--port', '0', '--data-dir', dataDir]);
    const runtime = path.join(dataDir, 'coordinator.json');
    for (let attempt = 0; attempt < 400 && this.url === ''; attempt += 1) {
      const text = await fs.readFile(runtime, 'utf8').catch(() => null);
      if (text) this.url = (JSON.parse(text) as { url: string }).url;
      else await sleep(25);
    }
    if (this.url === '') throw new Error(`coordinator did not write ${runtime} within 10 s`);
    this.company = await this.addCompany();
  }

  /** Registers another company, which gets a bucket of its own, and logs in its user. */
  async addCompany(): Promise<BenchCompany> {
    this.companies += 1;
    const email = `bench${this.companies}@example.com`;
    const body = { name: `bench ${this.companies}`, email, password };
    const registered = await this.request<RegisterCompanyResult>('POST', '/admin/registerCompany', body, this.adminToken);
    const session = await this.request<LoginResult>('POST', '/auth/login', { email, password }, null);
    return { id: registered.companyId, email, token: session.token };
  }

  /** Calls the HTTP API as the user of `company` (default the first one) and returns the JSON body. */
  async api<T>(method: string, route: string, body?: unknown, company: BenchCompany = this.company): Promise<T> {
    return this.request<T>(method, route, body, company.token);
  }

  /** Writes the company's installer file into `dir` and returns its path. */
  async writeInstaller(dir: string, company: BenchCompany = this.company): Promise<string> {
    const response = await fetch(`${this.url}/companies/${company.id}/installer`, { headers: { authorization: `Bearer ${company.token}` } });
    if (!response.ok) throw new Error(`GET installer of company ${company.id} failed with HTTP ${response.status}`);
    const fileName = response.headers.get('x-syncctl-installer-name') ?? `syncctl-agent-company-${company.id}.json`;
    await fs.mkdir(dir, { recursive: true });
    const file = path.join(dir, fileName);
    await fs.writeFile(file, await response.text(), { mode: 0o600 });
    return file;
  }

  /** Starts an agent enrolled in `company` and returns once the coordinator lists it online. */
  async startAgent(name: string, company: BenchCompany = this.company): Promise<BenchAgent> {
    const installer = await this.writeInstaller(path.join(this.root, `installer-${name}`), company);
    const stateDir = path.join(this.root, `agent-${name}`);
    const child = this.spawn(`agent-${name}`, ['agent', 'start', '--installer', installer, '--state-dir', stateDir, '--name', name]);
    for (let attempt = 0; attempt < 400; attempt += 1) {
      const resources = await this.api<ResourceView[]>('GET', `/companies/${company.id}/resources`, undefined, company);
      const resource = resources.find((r) => r.name === name && r.online);
      if (resource) return { name, resourceId: resource.id, child, stateDir };
      if (child.exitCode !== null) throw new Error(`agent ${name} exited with code ${child.exitCode}`);
      await sleep(25);
    }
    throw new Error(`agent ${name} did not come online within 10 s`);
  }

  /** Runs the CLI, logged in as the first company's user, and returns its stdout. */
  async cli(args: string[]): Promise<string> {
    if (!this.loggedInCli) {
      this.loggedInCli = true;
      await execFileAsync(syncctl, ['login', '--email', this.company.email, '--password', password], { env: this.env });
    }
    const { stdout } = await execFileAsync(syncctl, args, { env: this.env, maxBuffer: 64 << 20 });
    return stdout;
  }

  async cliJson<T>(args: string[]): Promise<T> {
    return JSON.parse(await this.cli([...args, '--json'])) as T;
  }

  /** Stops one process started by this cluster with SIGTERM and waits for it to exit. */
  async stopProcess(child: ChildProcess): Promise<void> {
    const index = this.children.indexOf(child);
    if (index >= 0) this.children.splice(index, 1);
    await terminate(child);
  }

  /** Stops the agents, then the coordinator. */
  async stop(): Promise<void> {
    for (const child of [...this.children].reverse()) await this.stopProcess(child);
  }

  private async request<T>(method: string, route: string, body: unknown, token: string | null): Promise<T> {
    const headers: Record<string, string> = {};
    if (token !== null) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(`${this.url}${route}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${route} failed with HTTP ${response.status}: ${text.slice(0, 300)}`);
    return (text === '' ? null : JSON.parse(text)) as T;
  }

  private spawn(label: string, args: string[]): ChildProcess {
    const nodeArgs: string[] = [];
    if (this.options.cpuProfileDir !== undefined) {
      nodeArgs.push('--cpu-prof', '--cpu-prof-dir', this.options.cpuProfileDir, '--cpu-prof-name', `${label}-${Date.now()}.cpuprofile`);
    }
    const child = spawn(process.execPath, [...nodeArgs, syncctl, ...args], {
      env: this.env,
      stdio: ['ignore', process.env.BENCH_LOGS ? 'inherit' : 'ignore', 'inherit'],
    });
    this.children.push(child);
    return child;
  }
}

/** Sends SIGTERM and waits for the exit; sends SIGKILL when the process is still there after 30 s. */
export async function terminate(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  await exited;
  clearTimeout(timer);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function percentile(values: number[], fraction: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(fraction * sorted.length) - 1));
  return sorted[index];
}
