import type { LoginResult } from '../../protocol/company.ts';
import { ApiClient } from '../api-client.ts';
import { deleteCredentials, saveCredentials } from '../credentials.ts';
import { checkServerUrl, defaultServer, resolveContext, type GlobalOptions } from '../context.ts';
import { invalidInput } from '../../protocol/errors.ts';
import { printResult } from '../output.ts';

export interface LoginOptions {
  email: string;
  password?: string;
}

/** The password from --password, else from SYNCCTL_PASSWORD. */
export function passwordOption(value: string | undefined): string {
  const password = value ?? process.env.SYNCCTL_PASSWORD;
  if (password === undefined || password === '') {
    throw invalidInput('Missing password: pass --password or set SYNCCTL_PASSWORD');
  }
  return password;
}

/** Opens a session and saves its token for later commands. */
export async function loginCommand(options: LoginOptions, globals: GlobalOptions): Promise<void> {
  const server = checkServerUrl((globals.server ?? process.env.SYNCCTL_SERVER ?? defaultServer).replace(/\/+$/, ''));
  const client = new ApiClient(server, null);
  const result = await client.request<LoginResult>('POST', '/auth/login', { email: options.email, password: passwordOption(options.password) });
  const file = await saveCredentials({ server, token: result.token, userId: result.userId, companyId: result.companyId, email: options.email });
  printResult(globals.json === true, { userId: result.userId, companyId: result.companyId, server, credentialsFile: file }, () => `Logged in to ${server} as ${options.email} (company ${result.companyId}).`);
}

/** Ends the saved session on the coordinator and deletes it locally. */
export async function logoutCommand(globals: GlobalOptions): Promise<void> {
  const context = await resolveContext(globals);
  if (context.credentials) {
    await context.client.request('POST', '/auth/logout').catch(() => undefined);
  }
  const removed = await deleteCredentials();
  printResult(context.json, { loggedOut: removed }, () => (removed ? 'Logged out.' : 'Not logged in.'));
}
