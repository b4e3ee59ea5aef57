import fs from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { installerFileName, type RegisterCompanyResult } from '../../protocol/company.ts';
import { invalidInput } from '../../protocol/errors.ts';
import { parseInput } from '../../protocol/validation.ts';
import { adminClient, resolveCompanyId, resolveContext, type GlobalOptions } from '../context.ts';
import { printResult } from '../output.ts';
import { passwordOption } from './session.ts';

export interface CompanyRegisterOptions {
  name: string;
  email: string;
  password?: string;
}

const registerFlagsSchema = z.object({
  name: z.string().trim().min(1, 'must not be empty'),
  email: z.string().trim().min(1, 'must not be empty'),
});

/** Registers a company and its first user (admin token required). */
export async function companyRegister(options: CompanyRegisterOptions, globals: GlobalOptions): Promise<void> {
  const flags = parseInput(registerFlagsSchema, { name: options.name, email: options.email }, 'option');
  const password = passwordOption(options.password);
  // The password's value is never echoed in a message.
  if (password.length < 8) throw invalidInput('Invalid --password: it must be at least 8 characters');
  const context = await resolveContext(globals);
  const result = await adminClient(context, globals).request<RegisterCompanyResult>('POST', '/admin/registerCompany', { ...flags, password });
  printResult(context.json, result, () => `Company ${result.companyId} registered with bucket ${result.bucket}.\nDownload its agent installer with: syncctl company installer --company ${result.companyId} --out DIR`);
}

export interface CompanyInstallerOptions {
  company?: string;
  out: string;
}

/** Downloads the company's agent installer into a folder with file mode 0600, because it contains the enrollment secret. */
export async function companyInstaller(options: CompanyInstallerOptions, globals: GlobalOptions): Promise<void> {
  const context = await resolveContext(globals);
  const companyId = resolveCompanyId(context, options.company);
  const response = await context.client.send('GET', `/companies/${companyId}/installer`);
  const text = await response.text();
  if (!response.ok) {
    await context.client.request('GET', `/companies/${companyId}/installer`);
  }

  const dir = path.resolve(options.out);
  await fs.mkdir(dir, { recursive: true });
  const file = path.join(dir, installerFileName(companyId));
  await fs.writeFile(file, text, { mode: 0o600 });
  await fs.chmod(file, 0o600);
  printResult(context.json, { path: file, companyId }, () => `Installer saved to ${file}\nStart an agent with: syncctl agent start --installer ${file}`);
}
