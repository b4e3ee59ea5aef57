import pino, { type Logger } from 'pino';

export type { Logger };

/** Field paths whose values never reach a log line. */
const redactedPaths = [
  'password',
  'token',
  'secret',
  'enrollmentSecret',
  'adminToken',
  'authorization',
  'cookie',
  '*.password',
  '*.token',
  '*.enrollmentSecret',
  'req.headers.authorization',
  'req.headers.cookie',
];

/**
 * Creates the structured logger of a long-running process (coordinator or agent): one JSON line
 * per event on stdout, secrets redacted. `SYNCCTL_LOG_LEVEL` sets the level (default info).
 */
export function createLogger(component: string, destination?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    level: process.env.SYNCCTL_LOG_LEVEL ?? 'info',
    base: { component, pid: process.pid },
    redact: { paths: redactedPaths, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return destination ? pino(options, destination) : pino(options);
}
