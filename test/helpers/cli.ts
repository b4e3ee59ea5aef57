import { spawn } from 'node:child_process';
import os from 'node:os';
import { deferCleanup } from './cleanup.ts';
import { childEnv, syncctlBin } from './processes.ts';

export interface CliOptions {
  /** SYNCCTL_CONFIG_DIR: where the CLI keeps its login session. */
  configDir: string;
  /** SYNCCTL_SERVER; unset when omitted. */
  server?: string;
  /** Extra environment variables; `undefined` removes one. */
  env?: Record<string, string | undefined>;
  /** Kills the command after this many milliseconds (default 60 000). */
  timeoutMs?: number;
  /** Working folder of the command (default: the system temp folder). */
  cwd?: string;
}

export interface CliResult {
  args: string[];
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A CLI command started in the background; `result` settles when it exits. */
export interface RunningCli {
  result: Promise<CliResult>;
  kill(): void;
}

/** Starts `syncctl ARGS...` without waiting for it. It is killed when the current scope ends. */
export function spawnCli(args: string[], options: CliOptions): RunningCli {
  const env = childEnv({
    SYNCCTL_CONFIG_DIR: options.configDir,
    SYNCCTL_SERVER: options.server,
    ...options.env,
  });
  const cwd = options.cwd ?? os.tmpdir();
  const child = spawn(syncctlBin, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));

  const timeoutMs = options.timeoutMs ?? 60_000;
  const timer = setTimeout(() => {
    stderr += `\n[test harness] killed after ${timeoutMs} ms\n`;
    child.kill('SIGKILL');
  }, timeoutMs);

  const result = new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ args, code, stdout, stderr });
    });
  });
  const kill = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  deferCleanup(kill);
  return { result, kill };
}

/** Runs `syncctl ARGS...` to the end and returns its exit code and output. */
export function runCli(args: string[], options: CliOptions): Promise<CliResult> {
  return spawnCli(args, options).result;
}

/**
 * Parses the stdout of a command run with `--json`. Throws, quoting the command and its stderr,
 * when it exited non-zero or printed anything but one JSON document.
 */
export function parseJsonOutput<T = any>(result: CliResult): T {
  const command = `syncctl ${result.args.join(' ')}`;
  if (result.code !== 0) {
    throw new Error(`${command} exited with code ${result.code}\nstderr: ${result.stderr}\nstdout: ${result.stdout}`);
  }
  try {
    return JSON.parse(result.stdout) as T;
  } catch {
    throw new Error(`${command} printed no single JSON document on stdout:\n${result.stdout}\nstderr: ${result.stderr}`);
  }
}

/** Runs a command that must succeed and returns its parsed `--json` output. */
export async function runCliJson<T = any>(args: string[], options: CliOptions): Promise<T> {
  return parseJsonOutput<T>(await runCli(args, options));
}
