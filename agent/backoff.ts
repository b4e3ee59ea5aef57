import { setTimeout as delay } from 'node:timers/promises';

/**
 * Returns the wait in ms before retry number `attempt` (0 for the first retry): `baseMs` doubling
 * up to `maxMs`. Jitter picks a value between half and all of it, so that many agents retrying
 * after one coordinator restart spread out instead of arriving together.
 */
export function backoffDelayMs(attempt: number, baseMs: number, maxMs: number): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30));
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

/** Waits `ms` milliseconds. Rejects with the signal's reason when `signal` aborts first. */
export async function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  await delay(ms, undefined, { signal });
}
