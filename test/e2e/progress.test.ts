import { execFile } from 'node:child_process';
import os from 'node:os';
import { promisify } from 'node:util';
import { beforeAll, expect, test } from 'vitest';
import { addBackup, waitForSnapshots } from '../helpers/backup.ts';
import { enrollAgent, registerCompany, type Company, type EnrolledAgent } from '../helpers/company.ts';
import { startCoordinator } from '../helpers/coordinator.ts';
import { childEnv, syncctlBin } from '../helpers/processes.ts';
import { makeTempDir } from '../helpers/temp.ts';
import { uniqueContent, writeTree, type TreeSpec } from '../helpers/tree.ts';

const run = promisify(execFile);

let company: Company;
let laptop: EnrolledAgent;
let configId: number;

beforeAll(async () => {
  const coordinator = await startCoordinator();
  company = await registerCompany(coordinator, 'Terminal');
  laptop = await enrollAgent(company, 'laptop');
  const tree = await makeTempDir('progress-tree');
  const spec: TreeSpec = {};
  for (let index = 0; index < 200; index += 1) spec[`dir-${index % 10}/file-${index}.bin`] = uniqueContent(20_000);
  await writeTree(tree, spec);
  configId = (await addBackup(company, { name: 'progress', resourceId: laptop.resourceId, paths: [tree] })).id;
  await waitForSnapshots(company, configId, laptop.resourceId, 1);
});

/** Runs a CLI command on a pseudo-terminal (util-linux `script`), returning what the terminal showed. */
async function runOnTerminal(args: string[]): Promise<string> {
  const command = [syncctlBin, ...args].map((arg) => `'${arg.replace(/'/g, `'\\''`)}'`).join(' ');
  const env = childEnv({ SYNCCTL_CONFIG_DIR: company.configDir, SYNCCTL_SERVER: company.coordinator.url });
  const { stdout } = await run('script', ['-qec', command, '/dev/null'], { env, cwd: os.tmpdir(), timeout: 60_000 });
  return stdout;
}

test('run on a terminal shows progress', async () => {
  const screen = await runOnTerminal(['backup', 'run', String(configId), '--resource', String(laptop.resourceId), '--wait']);

  expect(screen).toMatch(/\d+ files, [\d.]+ (B|KiB|MiB), [\d.]+ (B|KiB|MiB)\/s/);
  expect(screen).toMatch(/Snapshot \d+ of config/);
});

test('json on a terminal prints no progress', async () => {
  const screen = await runOnTerminal(['backup', 'run', String(configId), '--resource', String(laptop.resourceId), '--wait', '--json']);

  expect(screen).not.toMatch(/files, .*\/s/);
  const result = JSON.parse(screen.trim()) as { snapshotId: number; files: number };
  expect(result.files).toBe(200);
});
