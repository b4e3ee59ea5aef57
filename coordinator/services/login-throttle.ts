import { SyncctlError } from '../../src/protocol/errors.ts';

const maxFailures = 5;
const windowMs = 15 * 60_000;
const lockMs = 60_000;

interface Failures {
  count: number;
  firstAt: number;
  lockedUntil: number;
}

/**
 * Slows down password guessing: after 5 failed logins for one email within 15 minutes, logins
 * for it are rejected for a minute. Kept in memory, so a restart clears it.
 */
export class LoginThrottle {
  private readonly failures = new Map<string, Failures>();

  check(email: string, now = Date.now()): void {
    const entry = this.failures.get(email);
    if (entry && entry.lockedUntil > now) {
      const seconds = Math.ceil((entry.lockedUntil - now) / 1000);
      throw new SyncctlError('rateLimited', `Too many failed logins for "${email}"; try again in ${seconds} s`);
    }
  }

  recordFailure(email: string, now = Date.now()): void {
    const entry = this.failures.get(email);
    if (!entry || now - entry.firstAt > windowMs) {
      this.failures.set(email, { count: 1, firstAt: now, lockedUntil: 0 });
      return;
    }
    entry.count += 1;
    if (entry.count >= maxFailures) {
      entry.lockedUntil = now + lockMs;
      entry.count = 0;
      entry.firstAt = now;
    }
  }

  recordSuccess(email: string): void {
    this.failures.delete(email);
  }
}
