import { execFile, execFileSync, spawn } from 'node:child_process';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export type PeerName = 'restic' | 'rclone' | 'syncthing';

/** A peer tool found on PATH, with the first line of its version output. */
export interface Peer {
  name: PeerName;
  path: string;
  version: string;
}

const versionArgs: Record<PeerName, string[]> = {
  restic: ['version'],
  rclone: ['version'],
  syncthing: ['--version'],
};

/** Debian package that provides each peer. */
export const peerPackages: Record<PeerName, string> = { restic: 'restic', rclone: 'rclone', syncthing: 'syncthing' };

function which(command: string): string | null {
  try {
    return execFileSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}

/** Looks up each peer on PATH. Missing peers are returned as null; nothing is installed. */
export function findPeers(): Record<PeerName, Peer | null> {
  const found = {} as Record<PeerName, Peer | null>;
  for (const name of Object.keys(versionArgs) as PeerName[]) {
    const path = which(name);
    if (path === null) {
      found[name] = null;
      continue;
    }
    let version = 'unknown version';
    try {
      version = execFileSync(path, versionArgs[name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split('\n')[0].trim();
    } catch {
      // A version that cannot be read does not stop the benchmark.
    }
    found[name] = { name, path, version };
  }
  return found;
}

/** Output of a command run to completion. */
export interface CommandResult {
  stdout: string;
  stderr: string;
}

/** Runs a command and throws with its stderr when it exits non-zero. */
export async function runCommand(file: string, args: string[], env?: NodeJS.ProcessEnv, cwd?: string): Promise<CommandResult> {
  try {
    return await execFileAsync(file, args, { env: { ...process.env, ...env }, cwd, maxBuffer: 64 << 20 });
  } catch (error) {
    const failure = error as Error & { stderr?: string; code?: number };
    throw new Error(`${file} ${args.join(' ')} failed (exit ${failure.code ?? '?'}): ${(failure.stderr ?? failure.message).trim().slice(0, 2000)}`);
  }
}

/** Runs a shell command line, for pipelines such as `find | xargs cat`. */
export async function runShell(script: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const child = spawn('sh', ['-c', script], { stdio: ['ignore', 'ignore', 'inherit'] });
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`sh -c '${script}' exited with ${code}`))));
  });
}
