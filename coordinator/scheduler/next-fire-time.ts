import cronParser from 'cron-parser';
import type { ScheduleDetails } from '../../src/protocol/backup-config.ts';

const unitMs = {
  MINUTES: 60_000,
  HOURS: 3_600_000,
  DAYS: 86_400_000,
  WEEKS: 7 * 86_400_000,
} as const;

export function intervalMs(schedule: ScheduleDetails): number | null {
  if (schedule.scheduleType === 'CRON') return null;
  return unitMs[schedule.scheduleType] * (schedule.scheduleInterval ?? 1);
}

/** The first due time strictly after `now`. Interval schedules count from `anchor`. */
export function nextFireTime(schedule: ScheduleDetails, anchor: Date, now: Date): Date {
  const period = intervalMs(schedule);
  if (period === null) {
    return cronParser.parseExpression(schedule.cronExpression ?? '', { currentDate: now }).next().toDate();
  }
  const elapsed = now.getTime() - anchor.getTime();
  const periods = elapsed < 0 ? 0 : Math.floor(elapsed / period) + 1;
  return new Date(anchor.getTime() + periods * period);
}

/** The latest due time at or before `now` and after `anchor`, or null if none has come yet. */
export function latestDueTime(schedule: ScheduleDetails, anchor: Date, now: Date): Date | null {
  const period = intervalMs(schedule);
  if (period === null) {
    const previous = cronParser.parseExpression(schedule.cronExpression ?? '', { currentDate: now }).prev().toDate();
    return previous > anchor ? previous : null;
  }
  const periods = Math.floor((now.getTime() - anchor.getTime()) / period);
  return periods >= 1 ? new Date(anchor.getTime() + periods * period) : null;
}
