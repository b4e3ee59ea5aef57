import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from '../src/logger.ts';
import {
  companyIdFromInstallerName,
  installerSchema,
  type Installer,
} from '../src/protocol/company.ts';
import { invalidInput } from '../src/protocol/errors.ts';
import type { RegisterResourceResult } from '../src/protocol/resource.ts';
import { CoordinatorClient } from './coordinator-client.ts';
import { describeError, fsErrorCode, isNotFound } from './fs-error-code.ts';
import { describeInvalidField } from './invalid-file-field.ts';
import { readStateFile, stateFilePath, writeStateFile, type AgentState } from './state-file.ts';

const downloadHint = 'Download it again with "syncctl company installer --company ID --out DIR".';

/**
 * Reads and validates an installer file. Its name must carry a company id
 * (`syncctl-agent-company-19.json`) equal to the `companyId` it contains.
 */
export async function readInstaller(installerPath: string): Promise<Installer> {
  const fileName = path.basename(installerPath);
  const companyIdOfName = companyIdFromInstallerName(fileName);
  if (companyIdOfName === null) {
    throw invalidInput(
      `Installer file name "${fileName}" carries no company id; expected a name such as syncctl-agent-company-19.json. Pass the file as the coordinator named it.`,
    );
  }

  let text: string;
  try {
    text = await fs.readFile(installerPath, 'utf8');
  } catch (error) {
    if (isNotFound(error)) {
      throw invalidInput(`Installer file ${installerPath} not found. ${downloadHint}`);
    }
    throw invalidInput(`Installer file ${installerPath} cannot be read (${fsErrorCode(error) ?? describeError(error)}); check its permissions or download it again.`);
  }

  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw invalidInput(`Installer file ${installerPath} is not valid JSON. ${downloadHint}`);
  }
  const result = installerSchema.safeParse(value);
  if (!result.success) {
    const problem = describeInvalidField(value, result.error, ['enrollmentSecret']);
    throw invalidInput(`Installer file ${installerPath} is invalid: ${problem}. ${downloadHint}`);
  }

  const installer = result.data;
  if (installer.companyId !== companyIdOfName) {
    throw invalidInput(
      `Installer file ${installerPath} is named for company ${companyIdOfName} but its field "companyId" is ${installer.companyId}. ${downloadHint}`,
    );
  }
  return installer;
}

export interface LoadStateOptions {
  stateDir: string;
  installerPath?: string;
  name?: string;
  logger: Logger;
}

/**
 * Returns the agent's saved state, enrolling first when there is none: `POST /resource/register`
 * with the installer's enrollment secret, then the resource id and token are saved. A saved state
 * needs no installer; given one, its company must match the state's.
 */
export async function loadOrEnroll(options: LoadStateOptions): Promise<AgentState> {
  const saved = await readStateFile(options.stateDir);
  const installer =
    options.installerPath === undefined ? null : await readInstaller(options.installerPath);

  if (saved !== null) {
    if (installer !== null) checkInstallerMatches(saved, installer, options);
    return saved;
  }
  if (installer === null) {
    throw invalidInput(
      `The agent has no state in ${stateFilePath(options.stateDir)} and no installer was given. Start it once with --installer syncctl-agent-company-<id>.json to enroll it.`,
    );
  }
  return enroll(installer, options);
}

function checkInstallerMatches(
  saved: AgentState,
  installer: Installer,
  options: LoadStateOptions,
): void {
  if (installer.companyId === saved.companyId) return;
  throw invalidInput(
    `Installer ${options.installerPath} is for company ${installer.companyId}, but the agent in ${options.stateDir} is enrolled in company ${saved.companyId} as resource ${saved.resourceId}. Leave out --installer, or pass another --state-dir to enroll a second agent.`,
  );
}

async function enroll(installer: Installer, options: LoadStateOptions): Promise<AgentState> {
  const name = options.name ?? os.hostname();
  const client = new CoordinatorClient({
    baseUrl: installer.coordinatorUrl,
    onRetry: (retry) => options.logger.warn(retry, 'enrollment request failed; retrying'),
  });
  const registered = await client.post<RegisterResourceResult>('/resource/register', {
    companyId: installer.companyId,
    enrollmentSecret: installer.enrollmentSecret,
    name,
    hostname: os.hostname(),
    platform: process.platform,
  });

  const state: AgentState = {
    coordinatorUrl: installer.coordinatorUrl,
    companyId: installer.companyId,
    resourceId: registered.resourceId,
    token: registered.token,
    name,
  };
  await writeStateFile(options.stateDir, state);
  options.logger.info(
    {
      resourceId: state.resourceId,
      companyId: state.companyId,
      coordinatorUrl: state.coordinatorUrl,
      name,
    },
    'agent enrolled',
  );
  return state;
}
