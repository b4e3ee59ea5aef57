/** Stable error codes shared by the coordinator, the agent and the CLI. Nothing branches on message text. */
export const errorCodes = {
  invalidInput: { status: 400, exit: 2 },
  unauthenticated: { status: 401, exit: 3 },
  forbidden: { status: 403, exit: 3 },
  notFound: { status: 404, exit: 4 },
  conflict: { status: 409, exit: 5 },
  rateLimited: { status: 429, exit: 7 },
  unavailable: { status: 503, exit: 6 },
  internal: { status: 500, exit: 1 },
} as const;

export type ErrorCode = keyof typeof errorCodes;

/** The JSON body of every error response: `{error: {code, message}}`. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string };
}

/** An expected failure with a stable code; the HTTP layer maps it to a status, the CLI to an exit code. */
export class SyncctlError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = 'SyncctlError';
    this.code = code;
  }

  get status(): number {
    return errorCodes[this.code].status;
  }

  get exitCode(): number {
    return errorCodes[this.code].exit;
  }
}

export function invalidInput(message: string): SyncctlError {
  return new SyncctlError('invalidInput', message);
}

export function notFound(message: string): SyncctlError {
  return new SyncctlError('notFound', message);
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && value in errorCodes;
}
