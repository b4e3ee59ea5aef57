/**
 * Requests waiting for runs to finish, so that a client can wait for a run with one request in
 * place of polling it. Services call `notify` after they store a run's final status.
 */
export class RunWaiters {
  private readonly waiting = new Map<number, Set<() => void>>();

  /** Resolves when `notify` names the run, or `notifyAll` runs, or after `timeoutMs`. */
  wait(runId: number, timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const waiters = this.waiting.get(runId) ?? new Set<() => void>();
      this.waiting.set(runId, waiters);
      const wake = (): void => {
        clearTimeout(timer);
        waiters.delete(wake);
        if (waiters.size === 0 && this.waiting.get(runId) === waiters) this.waiting.delete(runId);
        resolve();
      };
      const timer = setTimeout(wake, timeoutMs);
      waiters.add(wake);
    });
  }

  /** Wakes the requests waiting for these runs. */
  notify(...runIds: number[]): void {
    for (const runId of runIds) {
      for (const wake of [...(this.waiting.get(runId) ?? [])]) wake();
    }
  }

  /** Wakes every waiting request, for changes that finish runs not known by id. */
  notifyAll(): void {
    this.notify(...this.waiting.keys());
  }
}
