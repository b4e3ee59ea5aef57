import path from 'node:path';

function pad(value: number): string {
  return String(value).padStart(2, '0');
}

/**
 * Returns the name a locally changed file is kept under when a sync brings a new version:
 * `notes.txt` becomes `notes.sync-conflict-20261204-153000.txt` (local time of `at`).
 */
export function conflictPath(filePath: string, at: Date): string {
  const stamp = `${at.getFullYear()}${pad(at.getMonth() + 1)}${pad(at.getDate())}-${pad(at.getHours())}${pad(at.getMinutes())}${pad(at.getSeconds())}`;
  const dir = path.dirname(filePath);
  const name = path.basename(filePath);
  const dot = name.lastIndexOf('.');
  const hasExtension = dot > 0;
  const stem = hasExtension ? name.slice(0, dot) : name;
  const extension = hasExtension ? name.slice(dot) : '';
  return path.join(dir, `${stem}.sync-conflict-${stamp}${extension}`);
}

/** True for a name made by `conflictPath`, which a sync source never sends. */
export function isConflictName(name: string): boolean {
  return /\.sync-conflict-\d{8}-\d{6}(\.[^/]*)?$/.test(name);
}
