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

/** One resource of an `armMany` request. */
export interface ArmTarget {
  resourceId: number;
  /** When the job of this resource last fired; a due time missed since then fires once at arm time. */
  lastFiredAt?: Date;
}

/** Jobs of one config on several resources, all with the same schedule and anchor. */
export interface ArmManyRequest {
  configId: number;
  companyId: number;
  schedule: ScheduleDetails;
  /** Instant that interval schedules count from. */
  anchorAt: Date;
  targets: ArmTarget[];
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

/** The armed job of one config on one resource. */
interface Entry {
  configId: number;
  companyId: number;
  resourceId: number;
  names: JobNames;
  chain: Chain;
}

/**
 * The jobs of one config that share a schedule and an anchor. Such jobs fall due at the same
 * instants, so one chain of node-schedule jobs fires all of them and each fire time is computed
 * once for the whole chain.
 */
interface Chain {
  key: string;
  configId: number;
  schedule: ScheduleDetails;
  anchorAt: Date;
  entries: Map<string, Entry>;
  job: schedule.Job | null;
}

/**
 * The one registry of armed backup jobs: one job per config and resource, each with the names
 * of the original system. Jobs of a config with the same schedule and anchor share a chain of
 * one-shot node-schedule jobs, because arming thousands of node-schedule jobs one by one takes
 * seconds. Interval schedules are chains of one-shot jobs so that any interval works.
 */
export class BackupScheduler {
  /** Armed jobs by `entryKey(configId, resourceId)`. */
  private readonly entries = new Map<string, Entry>();
  private readonly chains = new Map<string, Chain>();
  private readonly onFire: (job: FiredJob) => void;
  private readonly logger: Logger;
  private generation = 0;

  constructor(onFire: (job: FiredJob) => void, logger: Logger) {
    this.onFire = onFire;
    this.logger = logger;
  }

  /** Arms the job of a config on one resource, replacing any job armed before for that pair. */
  arm(request: ArmRequest): void {
    const { resourceId, lastFiredAt, ...shared } = request;
    this.armMany({ ...shared, targets: [{ resourceId, lastFiredAt }] });
  }

  /**
   * Arms the jobs of a config on each target resource, replacing any job armed before for the
   * same config and resource. A target whose last fire time lies before the latest due time
   * fires once at once, marked as a catch-up.
   */
  armMany(request: ArmManyRequest): void {
    if (request.targets.length === 0) return;
    for (const target of request.targets) this.cancelEntry(entryKey(request.configId, target.resourceId));

    const key = chainKey(request);
    let chain = this.chains.get(key);
    const created = chain === undefined;
    if (chain === undefined) {
      chain = { key, configId: request.configId, schedule: request.schedule, anchorAt: request.anchorAt, entries: new Map(), job: null };
    }
    const added = request.targets.map((target) => this.addEntry(chain, request.companyId, target.resourceId));

    const now = new Date();
    let due: Date | null;
    try {
      if (created) {
        this.chains.set(key, chain);
        this.scheduleNext(chain, now, added);
      } else {
        this.logArmed(chain, added);
      }
      due = latestDueTime(request.schedule, request.anchorAt, now);
    } catch (error) {
      // A schedule stored before its limits were checked must not stop the other jobs.
      this.dropChain(chain);
      for (const entry of added) {
        this.logger.error({ ...entry.names, configId: entry.configId, resourceId: entry.resourceId, err: error }, 'job not armed: invalid schedule');
      }
      return;
    }

    if (due === null) return;
    const latestDue = due;
    request.targets.forEach((target, index) => {
      const last = target.lastFiredAt ?? request.anchorAt;
      if (latestDue > last) this.fire(added[index], true);
    });
  }

  disarm(configId: number, resourceId: number): void {
    this.cancelEntry(entryKey(configId, resourceId));
  }

  disarmConfig(configId: number): void {
    for (const [key, entry] of this.entries) {
      if (entry.configId === configId) this.cancelEntry(key);
    }
  }

  armedJobs(): ArmedJob[] {
    return [...this.entries.values()].map((entry) => ({
      ...entry.names,
      configId: entry.configId,
      resourceId: entry.resourceId,
      nextFireAt: entry.chain.job?.nextInvocation()?.toISOString() ?? null,
    }));
  }

  shutdown(): void {
    for (const key of [...this.entries.keys()]) this.cancelEntry(key);
  }

  private addEntry(chain: Chain, companyId: number, resourceId: number): Entry {
    const entry: Entry = { configId: chain.configId, companyId, resourceId, names: jobNames(chain.configId, companyId, resourceId), chain };
    const key = entryKey(chain.configId, resourceId);
    this.entries.set(key, entry);
    chain.entries.set(key, entry);
    return entry;
  }

  /**
   * Schedules the chain's next one-shot job for the first due time after `after` and logs
   * "job armed" for each entry in `logged`. Throws when the schedule has no valid next time.
   */
  private scheduleNext(chain: Chain, after: Date, logged: Iterable<Entry>): void {
    const at = nextFireTime(chain.schedule, chain.anchorAt, after);
    if (Number.isNaN(at.getTime())) throw new RangeError(`No valid next fire time for ${JSON.stringify(chain.schedule)}`);
    // Each link of a chain gets its own node-schedule name: node-schedule forgets a one-shot job's
    // name after it fires, which would otherwise drop the next link from its table.
    this.generation += 1;
    const job = schedule.scheduleJob(`${chain.key}#${this.generation}`, at, () => this.fireChain(chain, at));
    chain.job = job;
    if (job === null) {
      for (const entry of logged) {
        this.logger.error({ ...entry.names, configId: entry.configId, resourceId: entry.resourceId, at }, 'job not armed: no future fire time');
      }
      return;
    }
    this.logArmed(chain, logged);
  }

  private fireChain(chain: Chain, at: Date): void {
    if (this.chains.get(chain.key) !== chain) return;
    const entries = [...chain.entries.values()];
    for (const entry of entries) this.fire(entry, false);
    try {
      this.scheduleNext(chain, new Date(at.getTime() + 1), chain.entries.values());
    } catch (error) {
      const dropped = [...chain.entries.values()];
      this.dropChain(chain);
      for (const entry of dropped) {
        this.logger.error({ ...entry.names, configId: entry.configId, resourceId: entry.resourceId, err: error }, 'job not re-armed: invalid schedule');
      }
    }
  }

  private logArmed(chain: Chain, entries: Iterable<Entry>): void {
    const nextFireAt = chain.job?.nextInvocation()?.toISOString();
    if (nextFireAt === undefined) return;
    for (const entry of entries) {
      this.logger.info({ ...entry.names, configId: entry.configId, resourceId: entry.resourceId, nextFireAt }, 'job armed');
    }
  }

  private fire(entry: Entry, catchUp: boolean): void {
    const { configId, companyId, resourceId } = entry;
    this.logger.info({ ...entry.names, configId, resourceId, catchUp }, 'schedule fired');
    this.onFire({ configId, companyId, resourceId, firedAt: new Date(), catchUp });
  }

  /** Removes a chain and all of its entries without logging "job cancelled". */
  private dropChain(chain: Chain): void {
    chain.job?.cancel();
    if (this.chains.get(chain.key) === chain) this.chains.delete(chain.key);
    for (const key of chain.entries.keys()) this.entries.delete(key);
    chain.entries.clear();
  }

  private cancelEntry(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    const { chain } = entry;
    chain.entries.delete(key);
    if (chain.entries.size === 0) {
      chain.job?.cancel();
      if (this.chains.get(chain.key) === chain) this.chains.delete(chain.key);
    }
    this.logger.info({ ...entry.names, configId: entry.configId, resourceId: entry.resourceId }, 'job cancelled');
  }
}

function entryKey(configId: number, resourceId: number): string {
  return `${configId}/${resourceId}`;
}

/** Key of the chain that fires a config's jobs with this schedule and anchor. */
function chainKey(request: { configId: number; schedule: ScheduleDetails; anchorAt: Date }): string {
  return `config:${request.configId}/anchor:${request.anchorAt.getTime()}/${JSON.stringify(request.schedule)}`;
}
