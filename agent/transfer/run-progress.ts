import type { RunProgress } from '../../src/protocol/runs.ts';
import type { CoordinatorClient } from '../coordinator-client.ts';

/** Time in ms between two progress reports of one run. */
const reportIntervalMs = 500;

/**
 * Counters of a running backup or restore, sent to `POST /agent/runs/:id/progress` at most every
 * 500 ms while they change. A failed report is dropped, because the next one carries the totals.
 */
export class RunProgressReporter {
  readonly counts: RunProgress = { files: 0, bytes: 0, filesUploaded: 0, bytesUploaded: 0 };
  private readonly client: CoordinatorClient;
  private readonly runId: number;
  private timer: NodeJS.Timeout | null = null;
  private dirty = false;
  private sending: Promise<void> | null = null;
  private readonly onReportError: (error: unknown) => void;

  constructor(client: CoordinatorClient, runId: number, onReportError: (error: unknown) => void) {
    this.client = client;
    this.runId = runId;
    this.onReportError = onReportError;
  }

  /** Adds to the counters and schedules a report. */
  add(delta: Partial<RunProgress>): void {
    this.counts.files += delta.files ?? 0;
    this.counts.bytes += delta.bytes ?? 0;
    this.counts.filesUploaded += delta.filesUploaded ?? 0;
    this.counts.bytesUploaded += delta.bytesUploaded ?? 0;
    this.dirty = true;
    if (this.timer === null) this.timer = setTimeout(() => this.report(), reportIntervalMs);
  }

  /** Stops reporting and waits for a report in flight, so that none arrives after the commit. */
  async stop(): Promise<void> {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.dirty = false;
    await this.sending;
  }

  private report(): void {
    this.timer = null;
    if (!this.dirty || this.sending !== null) return;

    this.dirty = false;
    const body = { ...this.counts };
    this.sending = this.client
      .post(`/agent/runs/${this.runId}/progress`, body, { maxAttempts: 1 })
      .then(
        () => undefined,
        (error: unknown) => this.onReportError(error),
      )
      .finally(() => {
        this.sending = null;
        if (this.dirty && this.timer === null) {
          this.timer = setTimeout(() => this.report(), reportIntervalMs);
        }
      });
  }
}
