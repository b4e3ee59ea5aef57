import { CommanderError } from 'commander';
import { SyncctlError } from '../protocol/errors.ts';
import { buildProgram } from './program.ts';

/** Runs the CLI; the only place that sets the exit code. */
export async function main(argv: string[]): Promise<void> {
  const program = buildProgram().exitOverride();
  try {
    await program.parseAsync(argv);
  } catch (error) {
    process.exitCode = reportError(error);
  }
}

function reportError(error: unknown): number {
  if (error instanceof CommanderError) {
    return error.exitCode === 0 ? 0 : 2;
  }
  if (error instanceof SyncctlError) {
    process.stderr.write(`syncctl: ${error.message}\n`);
    return error.exitCode;
  }
  const detail = error instanceof Error ? (error.stack ?? error.message) : String(error);
  process.stderr.write(`syncctl: unexpected error; please report it with this output:\n${detail}\n`);
  return 1;
}
