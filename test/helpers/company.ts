import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { expect } from 'vitest';
import { installerSchema, type Installer, type RegisterCompanyResult } from '../../src/protocol/company.ts';
import type { RegisterResourceResult } from '../../src/protocol/resource.ts';
import { Agent } from './agent.ts';
import { api, expectApiSuccess, type ApiRequest, type ApiResponse } from './api.ts';
import { parseJsonOutput, runCli, runCliJson, spawnCli, type CliResult, type RunningCli } from './cli.ts';
import type { Coordinator } from './coordinator.ts';
import { makeTempDir } from './temp.ts';
import { waitFor } from './wait.ts';

/** A registered company with one logged-in user, seen from the CLI and from the REST API. */
export interface Company {
  coordinator: Coordinator;
  companyId: number;
  userId: number;
  bucket: string;
  name: string;
  email: string;
  password: string;
  /** SYNCCTL_CONFIG_DIR of the CLI, holding the user's login session. */
  configDir: string;
  /** Session token from `POST /auth/login`, for REST calls. */
  token: string;
  /** Runs a CLI command as this company's user. */
  cli(args: string[], options?: CompanyCliOptions): Promise<CliResult>;
  /** Runs a CLI command that must succeed, and parses its `--json` output. */
  cliJson<T = any>(args: string[], options?: CompanyCliOptions): Promise<T>;
  /** Starts a CLI command in the background. */
  spawnCli(args: string[], options?: CompanyCliOptions): RunningCli;
  /** Sends a REST request with the user's bearer token. */
  api<T = any>(method: string, path: string, request?: ApiRequest): Promise<ApiResponse<T>>;
}

export interface CompanyCliOptions {
  env?: Record<string, string | undefined>;
  timeoutMs?: number;
  cwd?: string;
}

/** A resource as `syncctl resource list --json` prints it. */
export interface ResourceListEntry {
  id: number;
  name: string;
  online: boolean;
  lastSeenAt: string | null;
}

/** Runs a CLI command with the coordinator's admin token and no login session. */
export async function runAsAdmin(coordinator: Coordinator, args: string[]): Promise<CliResult> {
  const configDir = await makeTempDir('admin-cli');
  return runCli(args, {
    configDir,
    server: coordinator.url,
    env: { SYNCCTL_ADMIN_TOKEN: coordinator.adminToken },
  });
}

/**
 * Registers a company through `syncctl company register`, logs its user in through
 * `syncctl login`, and opens a second session through `POST /auth/login` for REST calls.
 */
export async function registerCompany(coordinator: Coordinator, label: string): Promise<Company> {
  const name = `${label} ${randomBytes(3).toString('hex')}`;
  const email = `${label.toLowerCase().replace(/[^a-z0-9]+/g, '-')}-${randomBytes(4).toString('hex')}@example.com`;
  const password = `pw-${randomBytes(12).toString('hex')}`;

  const registered = await runAsAdmin(coordinator, [
    'company', 'register', '--name', name, '--email', email, '--password', password, '--json',
  ]);
  const { companyId, userId, bucket } = parseJsonOutput<RegisterCompanyResult>(registered);

  const configDir = await makeTempDir(`cli-${label.toLowerCase()}`);
  const cliOptions = (options: CompanyCliOptions = {}) => ({ configDir, server: coordinator.url, ...options });
  const login = await runCli(['login', '--server', coordinator.url, '--email', email, '--password', password], cliOptions());
  expect(login.code, login.stderr).toBe(0);

  const session = await api(coordinator.url, 'POST', '/auth/login', { json: { email, password } });
  const { token } = expectApiSuccess(session);

  return {
    coordinator,
    companyId,
    userId,
    bucket,
    name,
    email,
    password,
    configDir,
    token,
    cli: (args, options) => runCli(args, cliOptions(options)),
    cliJson: (args, options) => runCliJson(args, cliOptions(options)),
    spawnCli: (args, options) => spawnCli(args, cliOptions(options)),
    api: (method, path, request = {}) => api(coordinator.url, method, path, { token, ...request }),
  };
}

/** Downloads the company's agent installer with `syncctl company installer` and returns its path. */
export async function downloadInstaller(company: Company): Promise<string> {
  const outDir = await makeTempDir('installer');
  const { path } = await company.cliJson<{ path: string }>([
    'company', 'installer', '--company', String(company.companyId), '--out', outDir, '--json',
  ]);
  return path;
}

export async function listResources(company: Company): Promise<ResourceListEntry[]> {
  return company.cliJson<ResourceListEntry[]>(['resource', 'list', '--company', String(company.companyId), '--json']);
}

/** Waits until `resource list` shows a resource named `name` whose online state is `online`. */
export async function waitForResource(
  company: Company,
  name: string,
  online: boolean,
  timeoutMs = 20_000,
): Promise<ResourceListEntry> {
  let last: ResourceListEntry[] = [];
  return waitFor(
    async () => {
      last = await listResources(company);
      return last.find((resource) => resource.name === name && resource.online === online);
    },
    {
      what: `resource "${name}" to be listed with online=${online}`,
      timeoutMs,
      intervalMs: 250,
      context: () => `last resource list: ${JSON.stringify(last)}`,
    },
  );
}

export interface EnrolledAgent {
  agent: Agent;
  resourceId: number;
}

/** Downloads the installer, starts an agent with it, and waits until the resource is online. */
export async function enrollAgent(
  company: Company,
  name: string,
  env: Record<string, string> = {},
): Promise<EnrolledAgent> {
  const installer = await downloadInstaller(company);
  const agent = await Agent.start({ name, installer, env });
  const resource = await waitForResource(company, name, true);
  return { agent, resourceId: resource.id };
}

/** Reads the installer file: `{companyId, coordinatorUrl, enrollmentSecret}`. */
export async function readInstaller(installerPath: string): Promise<Installer> {
  return installerSchema.parse(JSON.parse(await readFile(installerPath, 'utf8')));
}

/**
 * Enrolls a resource through `POST /resource/register` with the company's installer secret,
 * without starting an agent. Returns the resource id and its bearer token for the agent API.
 */
export async function enrollWithoutAgent(company: Company, name: string): Promise<RegisterResourceResult> {
  const installer = await readInstaller(await downloadInstaller(company));
  const response = await api(company.coordinator.url, 'POST', '/resource/register', {
    json: { companyId: installer.companyId, enrollmentSecret: installer.enrollmentSecret, name },
  });
  return expectApiSuccess<RegisterResourceResult>(response);
}

/** Enrolls a resource without starting an agent, for tests that only need its id. */
export async function registerResourceWithoutAgent(company: Company, name: string): Promise<number> {
  return (await enrollWithoutAgent(company, name)).resourceId;
}
