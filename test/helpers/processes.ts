import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { deferCleanup } from './cleanup.ts';
import { waitFor } from './wait.ts';

/** The CLI under test, started as a user starts it: the executable file with its shebang. */
export const syncctlBin = fileURLToPath(new URL('../../bin/syncctl', import.meta.url));

/** One stdout line of a process; pino lines are parsed, other lines keep only `text`. */
export interface LogLine {
  msg?: string;
  level?: number;
  time?: string;
  text: string;
  [field: string]: unknown;
}

/** User and group ids a child runs as; the test runner's own when empty. */
export interface ProcessUser {
  uid?: number;
  gid?: number;
}

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

// Last resort when a test worker exits without running its cleanups: no child outlives it.
const liveChildren = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of liveChildren) child.kill('SIGKILL');
});

/**
 * Builds a child's environment: the test runner's own, without any SYNCCTL_* variable of the
 * person running the tests, plus `extra`.
 */
export function childEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('SYNCCTL_')) env[key] = value;
  }
  for (const [key, value] of Object.entries(extra)) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  return env;
}

/**
 * A long-running `syncctl` process (coordinator or agent) whose stdout log lines are collected.
 * It is stopped when the test or file that started it ends.
 */
export class ManagedProcess {
  readonly child: ChildProcess;
  readonly label: string;
  readonly logs: LogLine[] = [];
  stderr = '';
  exitStatus: ExitStatus | null = null;
  readonly exited: Promise<ExitStatus>;
  private paused = false;
  private partialLine = '';

  private constructor(label: string, args: string[], env: NodeJS.ProcessEnv, user: ProcessUser) {
    this.label = label;
    this.child = spawn(syncctlBin, args, { env, cwd: os.tmpdir(), stdio: ['ignore', 'pipe', 'pipe'], ...user });
    liveChildren.add(this.child);

    this.child.stdout!.setEncoding('utf8').on('data', (chunk: string) => this.collect(chunk));
    this.child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr += chunk;
    });
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => {
        liveChildren.delete(this.child);
        this.exitStatus = { code, signal };
        resolve(this.exitStatus);
      });
    });
  }

  /**
   * Starts `syncctl ARGS...`. Unless `owned` is set, its stop is registered in the current
   * cleanup scope. An owner (a Coordinator or Agent) that restarts its process sets `owned` and
   * stops the process itself, so that a restart inside a test does not end with that test.
   */
  static start(
    label: string,
    args: string[],
    env: NodeJS.ProcessEnv,
    options: { owned?: boolean; user?: ProcessUser } = {},
  ): ManagedProcess {
    const managed = new ManagedProcess(label, args, env, options.user ?? {});
    const owned = options.owned ?? false;
    if (!owned) deferCleanup(() => managed.stop());
    return managed;
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return this.exitStatus === null;
  }

  /**
   * Log lines whose pino `msg` equals `msg` and whose fields match every field of `fields`.
   * Values are compared as strings, so an id matches whether it was logged as number or string.
   */
  logsWith(msg: string, fields: Record<string, unknown> = {}): LogLine[] {
    return this.logs.filter(
      (line) => line.msg === msg && Object.entries(fields).every(([key, value]) => String(line[key]) === String(value)),
    );
  }

  /** Waits until at least `count` lines match `logsWith(msg, fields)`, and returns them all. */
  async waitForLog(
    msg: string,
    fields: Record<string, unknown> = {},
    options: { count?: number; timeoutMs?: number } = {},
  ): Promise<LogLine[]> {
    const count = options.count ?? 1;
    return waitFor(
      () => {
        const lines = this.logsWith(msg, fields);
        return lines.length >= count ? lines : undefined;
      },
      {
        what: `${count} "${msg}" log line(s) with ${JSON.stringify(fields)} from ${this.label}`,
        timeoutMs: options.timeoutMs,
        failIf: () => this.exitReason(),
        context: () => this.describe(),
      },
    );
  }

  /** Returns why the process is gone, or undefined while it runs. */
  exitReason(): string | undefined {
    if (this.exitStatus === null) return undefined;
    const { code, signal } = this.exitStatus;
    return `${this.label} exited with ${signal ? `signal ${signal}` : `code ${code}`}`;
  }

  /** Sends SIGSTOP: the process freezes without closing its sockets. */
  pause(): void {
    this.child.kill('SIGSTOP');
    this.paused = true;
  }

  resume(): void {
    this.child.kill('SIGCONT');
    this.paused = false;
  }

  /** Sends `signal` and waits for the exit; sends SIGKILL after `timeoutMs`. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 10_000): Promise<ExitStatus> {
    if (this.exitStatus) return this.exitStatus;

    this.child.kill(signal);
    // A stopped process keeps a pending SIGTERM until it is continued.
    if (this.paused) this.resume();

    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Formats the last log lines and stderr for error messages. */
  describe(lineCount = 15): string {
    const tail = this.logs.slice(-lineCount).map((line) => `  ${line.text}`);
    const stderr = this.stderr.trim().split('\n').slice(-lineCount).map((line) => `  ${line}`);
    return [
      `${this.label} (pid ${this.child.pid}) stdout tail:`,
      ...tail,
      `${this.label} stderr tail:`,
      ...stderr,
    ].join('\n');
  }

  private collect(chunk: string): void {
    const text = this.partialLine + chunk;
    const lines = text.split('\n');
    this.partialLine = lines.pop() ?? '';
    for (const line of lines) {
      if (line.trim() !== '') this.logs.push(parseLogLine(line));
    }
  }
}

function parseLogLine(text: string): LogLine {
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) {
      return { ...(parsed as Record<string, unknown>), text };
    }
  } catch {
    // Not a pino line: kept as plain text.
  }
  return { text };
}
