import schedule from 'node-schedule';
import type { Logger } from '../../src/logger.ts';
import type { ScheduleDetails } from '../../src/protocol/backup-config.ts';
import { latestDueTime, nextFireTime } from './next-fire-time.ts';

export interface ArmRequest {
  configId: number;
  companyId: number;
  resourceId: number;
  schedule: ScheduleDetails;
  /** Instant that interval schedules count from. */
  anchorAt: Date;
  /** When the job last fired; a due time missed since then fires once at arm time. */
  lastFiredAt?: Date;
}

export interface FiredJob {
  configId: number;
  companyId: number;
  resourceId: number;
  firedAt: Date;
  catchUp: boolean;
}

/** Names of one armed job, in the original system's scheme. */
export interface JobNames {
  jobName: string;
  jobGroup: string;
  triggerName: string;
  triggerGroup: string;
}

export interface ArmedJob extends JobNames {
  configId: number;
  resourceId: number;
  nextFireAt: string | null;
}

export function jobNames(configId: number, companyId: number, resourceId: number): JobNames {
  const group = `client:${companyId}_resource:${resourceId}`;
  return {
    jobName: `JobName_backupConfig_${configId}`,
    jobGroup: `JobGroup_${group}`,
    triggerName: `TriggerName_backupConfig_${configId}`,
    triggerGroup: `TriggerGroup_${group}`,
  };
}

interface Entry {
  request: ArmRequest;
  names: JobNames;
  job: schedule.Job | null;
}

/**
 * The one registry of armed backup jobs: one node-schedule job per config and resource. Arming
 * a key that is armed cancels the old job first, because node-schedule keeps firing a job whose
 * name was reused. Interval schedules are chains of one-shot jobs so that any interval works.
 */
export class BackupScheduler {
  private readonly entries = new Map<string, Entry>();
  private readonly onFire: (job: FiredJob) => void;
  private readonly logger: Logger;
  private generation = 0;

  constructor(onFire: (job: FiredJob) => void, logger: Logger) {
    this.onFire = onFire;
    this.logger = logger;
  }

  arm(request: ArmRequest): void {
    const names = jobNames(request.configId, request.companyId, request.resourceId);
    const key = this.key(names);
    this.cancelEntry(key);

    const entry: Entry = { request, names, job: null };
    this.entries.set(key, entry);
    try {
      this.scheduleNext(key, entry, new Date());
    } catch (error) {
      // A schedule stored before its limits were checked must not stop the other jobs.
      this.entries.delete(key);
      this.logger.error({ ...names, configId: request.configId, resourceId: request.resourceId, err: error }, 'job not armed: invalid schedule');
      return;
    }

    const now = new Date();
    const due = latestDueTime(request.schedule, request.anchorAt, now);
    const last = request.lastFiredAt ?? request.anchorAt;
    if (due !== null && due > last) this.fire(entry, true);
  }

  disarm(configId: number, resourceId: number): void {
    for (const [key, entry] of this.entries) {
      if (entry.request.configId === configId && entry.request.resourceId === resourceId) this.cancelEntry(key);
    }
  }

  disarmConfig(configId: number): void {
    for (const [key, entry] of this.entries) {
      if (entry.request.configId === configId) this.cancelEntry(key);
    }
  }

  armedJobs(): ArmedJob[] {
    return [...this.entries.values()].map((entry) => ({
      ...entry.names,
      configId: entry.request.configId,
      resourceId: entry.request.resourceId,
      nextFireAt: entry.job?.nextInvocation()?.toISOString() ?? null,
    }));
  }

  shutdown(): void {
    for (const key of [...this.entries.keys()]) this.cancelEntry(key);
  }

  private key(names: JobNames): string {
    return `${names.jobGroup}/${names.jobName}`;
  }

  private scheduleNext(key: string, entry: Entry, after: Date): void {
    const { request, names } = entry;
    const at = nextFireTime(request.schedule, request.anchorAt, after);
    if (Number.isNaN(at.getTime())) throw new RangeError(`No valid next fire time for ${JSON.stringify(request.schedule)}`);
    // Each link of a chain gets its own node-schedule name: node-schedule forgets a one-shot job's
    // name after it fires, which would otherwise drop the next link from its table.
    this.generation += 1;
    const job = schedule.scheduleJob(`${key}#${this.generation}`, at, () => {
      if (this.entries.get(key) !== entry) return;
      this.fire(entry, false);
      try {
        this.scheduleNext(key, entry, new Date(at.getTime() + 1));
      } catch (error) {
        this.entries.delete(key);
        this.logger.error({ ...names, configId: request.configId, resourceId: request.resourceId, err: error }, 'job not re-armed: invalid schedule');
      }
    });
    if (job === null) {
      this.logger.error({ ...names, configId: request.configId, resourceId: request.resourceId, at }, 'job not armed: no future fire time');
      return;
    }
    entry.job = job;
    this.logger.info({ ...names, configId: request.configId, resourceId: request.resourceId, nextFireAt: at.toISOString() }, 'job armed');
  }

  private fire(entry: Entry, catchUp: boolean): void {
    const { configId, companyId, resourceId } = entry.request;
    this.logger.info({ ...entry.names, configId, resourceId, catchUp }, 'schedule fired');
    this.onFire({ configId, companyId, resourceId, firedAt: new Date(), catchUp });
  }

  private cancelEntry(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    entry.job?.cancel();
    this.entries.delete(key);
    this.logger.info({ ...entry.names, configId: entry.request.configId, resourceId: entry.request.resourceId }, 'job cancelled');
  }
}
