export interface WaitOptions {
  /** What is awaited, in words that complete "Timed out waiting for ...". */
  what: string;
  /** Maximum time to wait, in milliseconds (default 20 000). */
  timeoutMs?: number;
  /** Pause between two checks, in milliseconds (default 100). */
  intervalMs?: number;
  /** Stops the wait early when it returns a reason, for example because a process exited. */
  failIf?: () => string | undefined;
  /** Extra detail for the timeout error, such as the tail of a log. */
  context?: () => string;
}

/**
 * Calls `predicate` until it returns a truthy value, and returns that value. An error thrown by
 * the predicate counts as "not yet" and is quoted in the timeout error.
 */
export async function waitFor<T>(
  predicate: () => T | Promise<T>,
  options: WaitOptions,
): Promise<NonNullable<T>> {
  const timeoutMs = options.timeoutMs ?? 20_000;
  const intervalMs = options.intervalMs ?? 100;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;

  for (;;) {
    try {
      const value = await predicate();
      if (value) return value as NonNullable<T>;
    } catch (error) {
      lastError = error;
    }

    const reason = options.failIf?.();
    if (reason !== undefined) {
      throw new Error(`Stopped waiting for ${options.what}: ${reason}${describeContext(options)}`);
    }

    if (Date.now() >= deadline) {
      const last = lastError === undefined ? '' : `; last error: ${errorText(lastError)}`;
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${options.what}${last}${describeContext(options)}`);
    }

    await sleep(intervalMs);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function describeContext(options: WaitOptions): string {
  const context = options.context?.();
  return context ? `\n${context}` : '';
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
