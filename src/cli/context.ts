import { invalidInput } from '../protocol/errors.ts';
import { ApiClient } from './api-client.ts';
import { loadCredentials, type Credentials } from './credentials.ts';

/** Options every command takes, from flags or their SYNCCTL_* variables. */
export interface GlobalOptions {
  server?: string;
  json?: boolean;
  adminToken?: string;
}

export const defaultServer = 'http://127.0.0.1:8080';

export interface CommandContext {
  json: boolean;
  server: string;
  credentials: Credentials | null;
  client: ApiClient;
}

/**
 * Resolves the server and the token to send: the saved session when it is for this server,
 * else the admin token from --admin-token or SYNCCTL_ADMIN_TOKEN.
 */
export async function resolveContext(globals: GlobalOptions): Promise<CommandContext> {
  const credentials = await loadCredentials();
  const server = checkServerUrl((globals.server ?? process.env.SYNCCTL_SERVER ?? credentials?.server ?? defaultServer).replace(/\/+$/, ''));
  const session = credentials && credentials.server.replace(/\/+$/, '') === server ? credentials : null;
  const adminToken = globals.adminToken ?? process.env.SYNCCTL_ADMIN_TOKEN ?? null;
  const token = session?.token ?? adminToken;
  return { json: globals.json === true, server, credentials: session, client: new ApiClient(server, token) };
}

/** Admin routes take the admin token even when a user session is saved. */
export function adminClient(context: CommandContext, globals: GlobalOptions): ApiClient {
  const token = globals.adminToken ?? process.env.SYNCCTL_ADMIN_TOKEN;
  if (!token) {
    throw invalidInput('Missing admin token: pass --admin-token or set SYNCCTL_ADMIN_TOKEN (the coordinator prints it on first start and keeps it in DATA_DIR/admin-token)');
  }
  return new ApiClient(context.server, token);
}

/** The company a command acts on: --company, else the logged-in user's company. */
export function resolveCompanyId(context: CommandContext, company: string | undefined): number {
  if (company !== undefined) return parsePositiveInt(company, '--company');
  if (context.credentials) return context.credentials.companyId;
  throw invalidInput('Not logged in and no --company given: log in with "syncctl login", or pass --company with the admin token');
}

export function parsePositiveInt(value: string, flag: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) {
    throw invalidInput(`Invalid ${flag} "${value}": give a positive whole number`);
  }
  return Number(value);
}

/**
 * Checks that a path given for a resource is absolute. It is not resolved against this shell's
 * folder, because it names a place on the agent's machine, which may be another one.
 */
export function requireAbsolutePath(value: string, flag: string): string {
  if (!value.startsWith('/')) {
    const example = value === '' ? 'Documents' : value.replace(/^(\.\/)+/, '');
    throw invalidInput(`Invalid ${flag} "${value}": give an absolute path on the resource, such as /home/alex/${example}`);
  }
  return value;
}

/** Checks that the server is an http(s) URL, so a typo is not reported as an unreachable coordinator. */
export function checkServerUrl(server: string): string {
  let url: URL | null = null;
  try {
    url = new URL(server);
  } catch {
    url = null;
  }
  if (url === null || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw invalidInput(`Invalid --server "${server}": give the coordinator URL, such as http://127.0.0.1:8080`);
  }
  return server;
}
