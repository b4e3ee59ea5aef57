import type { Logger } from '../../src/logger.ts';
import type { Db } from '../db/open-database.ts';
import type { ObjectStore } from '../store/object-store.ts';
import type { Relay } from '../relay/relay.ts';
import type { BackupScheduler } from '../scheduler/backup-scheduler.ts';
import type { RunWaiters } from './run-waiters.ts';

/** Dependencies of every service function, built once at coordinator start. */
export interface ServiceDeps {
  db: Db;
  store: ObjectStore;
  logger: Logger;
  /** URL that agents and the CLI use to reach this coordinator. */
  publicUrl: string;
  relay: Relay;
  scheduler: BackupScheduler;
  runWaiters: RunWaiters;
}

/** Signed URLs handed to agents stay valid this long. */
export const signedUrlTtlSeconds = 15 * 60;
