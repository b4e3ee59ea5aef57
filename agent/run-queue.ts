/** A backup or restore body; it receives the signal that aborts it when the agent stops. */
export type RunTask = (signal: AbortSignal) => Promise<void>;

/** Receives when runs start, and when the last running one ended. */
export interface RunActivity {
  runStarted(): void;
  runEnded(): void;
}

/**
 * Schedules runs: backups of one config run one at a time in arrival order, restores start at
 * once and may overlap with backups. A run id that ran or is running is not run again, and asking
 * for it returns the same promise. A run whose task rejected is forgotten, so it can be retried.
 */
export class RunQueue {
  private readonly runs = new Map<number, Promise<void>>();
  private readonly tailOfConfig = new Map<number, Promise<void>>();
  private readonly controller = new AbortController();
  private readonly activity: RunActivity | undefined;
  private active = 0;

  constructor(activity?: RunActivity) {
    this.activity = activity;
  }

  /** Queues a backup behind the config's earlier backups. */
  backup(configId: number, runId: number, task: RunTask): Promise<void> {
    const known = this.runs.get(runId);
    if (known !== undefined) return known;

    const previous = this.tailOfConfig.get(configId) ?? Promise.resolve();
    const run = previous.catch(() => undefined).then(() => this.execute(task));
    this.track(runId, run);
    this.tailOfConfig.set(configId, run);
    void run
      .catch(() => undefined)
      .finally(() => {
        if (this.tailOfConfig.get(configId) === run) this.tailOfConfig.delete(configId);
      });
    return run;
  }

  /** Starts a restore now. */
  restore(runId: number, task: RunTask): Promise<void> {
    const known = this.runs.get(runId);
    if (known !== undefined) return known;

    const run = this.execute(task);
    this.track(runId, run);
    return run;
  }

  /** True when a backup of the config is running or waiting. */
  isBusy(configId: number): boolean {
    return this.tailOfConfig.has(configId);
  }

  /** Aborts running runs, skips waiting ones, and resolves when all have ended. */
  async stop(): Promise<void> {
    this.controller.abort();
    await Promise.allSettled(this.runs.values());
  }

  private track(runId: number, run: Promise<void>): void {
    this.runs.set(runId, run);
    run.catch(() => {
      if (this.runs.get(runId) === run) this.runs.delete(runId);
    });
  }

  private async execute(task: RunTask): Promise<void> {
    if (this.controller.signal.aborted) return;
    this.active += 1;
    this.activity?.runStarted();
    try {
      await task(this.controller.signal);
    } finally {
      this.active -= 1;
      if (this.active === 0) this.activity?.runEnded();
    }
  }
}
