/**
 * Cleanup registry for end-to-end tests. A helper that starts a process or creates a temp folder
 * registers its cleanup here. Cleanups registered while a test runs are run when that test ends,
 * pass or fail. The ones registered in `beforeAll` or at file level run when the file ends.
 * `setup.ts` installs the hooks that drive the two scopes.
 */

export type Cleanup = () => unknown;

const fileCleanups: Cleanup[] = [];
let testCleanups: Cleanup[] | null = null;

/** Registers `cleanup` in the current scope: the running test if there is one, else the file. */
export function deferCleanup(cleanup: Cleanup): void {
  (testCleanups ?? fileCleanups).push(cleanup);
}

export function beginTestScope(): void {
  testCleanups = [];
}

export async function endTestScope(): Promise<void> {
  const cleanups = testCleanups ?? [];
  testCleanups = null;
  await runCleanups(cleanups);
}

export async function endFileScope(): Promise<void> {
  await runCleanups(fileCleanups.splice(0));
}

/**
 * Runs cleanups last-registered first, so a folder outlives the process that wrote into it.
 * Every cleanup runs even when an earlier one fails, and the failures are raised together.
 */
async function runCleanups(cleanups: Cleanup[]): Promise<void> {
  const errors: unknown[] = [];
  for (const cleanup of cleanups.reverse()) {
    try {
      await cleanup();
    } catch (error) {
      errors.push(error);
    }
  }

  if (errors.length === 1) throw errors[0];
  if (errors.length > 1) throw new AggregateError(errors, `${errors.length} cleanups failed`);
}
