/** Returns the stored 0/1 `enable` flag after an update that may leave it unchanged. */
export function enableFlag(requested: boolean | undefined, current: number): number {
  if (requested === undefined) return current;
  return requested ? 1 : 0;
}
