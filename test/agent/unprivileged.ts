import { execFile } from 'node:child_process';
import { chmod } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * The user id a child runs as when the tests run as root, which reads every file regardless of
 * mode.
 */
const nobody = 65534;

/**
 * Runs a fixture script of test/agent/fixtures through tsx and returns its JSON output. As root
 * the child runs as user 65534 (nobody), so that mode 000 files are unreadable to it.
 */
export async function runFixture<T>(fixture: string, args: string[]): Promise<T> {
  const script = path.join(import.meta.dirname, 'fixtures', fixture);
  const asNobody = process.getuid?.() === 0 ? { uid: nobody, gid: nobody } : {};
  const { stdout } = await run(process.execPath, ['--import', 'tsx', script, ...args], {
    cwd: path.join(import.meta.dirname, '..', '..'),
    maxBuffer: 64 * 1024 * 1024,
    ...asNobody,
  });
  return JSON.parse(stdout) as T;
}

/** Makes a temp folder traversable by other users, so that the unprivileged child can reach it. */
export async function openToOtherUsers(folder: string): Promise<void> {
  await chmod(folder, 0o755);
}
