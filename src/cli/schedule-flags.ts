import type { ScheduleDetails } from '../protocol/backup-config.ts';
import { invalidInput } from '../protocol/errors.ts';

const units = { m: 'MINUTES', h: 'HOURS', d: 'DAYS', w: 'WEEKS' } as const;

/** Turns `--every 30m|6h|1d|1w` or `--cron EXPR` into schedule details; the coordinator validates the cron fields. */
export function scheduleFromFlags(every: string | undefined, cron: string | undefined): ScheduleDetails | undefined {
  if (every !== undefined && cron !== undefined) {
    throw invalidInput('Give either --every or --cron, not both');
  }
  if (cron !== undefined) return { scheduleType: 'CRON', cronExpression: cron };
  if (every === undefined) return undefined;

  const match = /^(\d+)\s*([mhdw])$/.exec(every.trim());
  if (!match || Number(match[1]) < 1) {
    throw invalidInput(`Invalid --every "${every}": give a whole number of at least 1 and a unit, such as 30m, 6h, 1d or 1w`);
  }
  return { scheduleType: units[match[2] as keyof typeof units], scheduleInterval: Number(match[1]) };
}

export function describeSchedule(schedule: ScheduleDetails): string {
  if (schedule.scheduleType === 'CRON') return `cron "${schedule.cronExpression}"`;
  return `every ${schedule.scheduleInterval} ${schedule.scheduleType.toLowerCase()}`;
}
