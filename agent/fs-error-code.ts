/** Returns the `code` of a Node.js system error (`ENOENT`, `EACCES`, ...), or undefined. */
export function fsErrorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null || !('code' in error)) return undefined;
  const { code } = error as { code: unknown };
  return typeof code === 'string' ? code : undefined;
}

/**
 * True for the error of a path that does not exist (`ENOENT`, or `ENOTDIR` for a parent that is a
 * file).
 */
export function isNotFound(error: unknown): boolean {
  const code = fsErrorCode(error);
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/** Returns an error's message for a run warning, without the stack trace. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
