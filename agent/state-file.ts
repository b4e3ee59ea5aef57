import fs from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { invalidInput } from '../src/protocol/errors.ts';
import { isNotFound } from './fs-error-code.ts';
import { describeInvalidField } from './invalid-file-field.ts';

/** The agent's identity, saved after enrollment in `<stateDir>/state.json`. */
export const agentStateSchema = z.object({
  coordinatorUrl: z.url(),
  companyId: z.number().int().positive(),
  resourceId: z.number().int().positive(),
  token: z.string().min(1),
  name: z.string().min(1),
});

export type AgentState = z.output<typeof agentStateSchema>;

export function stateFilePath(stateDir: string): string {
  return path.join(stateDir, 'state.json');
}

/**
 * Reads the state file, or returns null when there is none. Throws invalidInput when it is damaged.
 */
export async function readStateFile(stateDir: string): Promise<AgentState | null> {
  const filePath = stateFilePath(stateDir);
  let text: string;
  try {
    text = await fs.readFile(filePath, 'utf8');
  } catch (error) {
    if (isNotFound(error)) return null;
    throw error;
  }

  const fix = `Delete ${filePath} and start the agent again with --installer FILE to enroll it anew.`;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw invalidInput(`The agent state file ${filePath} is not valid JSON. ${fix}`);
  }
  const result = agentStateSchema.safeParse(value);
  if (!result.success) {
    const problem = describeInvalidField(value, result.error, ['token']);
    throw invalidInput(`The agent state file ${filePath} is invalid: ${problem}. ${fix}`);
  }
  return result.data;
}

/**
 * Writes the state file atomically with mode 0600, in a state folder created with mode 0700,
 * because the file contains the resource token.
 */
export async function writeStateFile(stateDir: string, state: AgentState): Promise<void> {
  await fs.mkdir(stateDir, { recursive: true, mode: 0o700 });
  const filePath = stateFilePath(stateDir);
  const temporaryPath = `${filePath}.${process.pid}.tmp`;
  await fs.rm(temporaryPath, { force: true });
  const handle = await fs.open(temporaryPath, 'w', 0o600);
  try {
    await handle.writeFile(`${JSON.stringify(state, null, 2)}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await fs.rename(temporaryPath, filePath);
  } catch (error) {
    await fs.rm(temporaryPath, { force: true });
    throw error;
  }
}
