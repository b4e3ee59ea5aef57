import fs from 'node:fs/promises';
import path from 'node:path';
import { joinUnderRoot } from '../../src/protocol/paths.ts';
import { isNotFound } from '../fs-error-code.ts';

/** The checked path for a restored entry, or the reason it may not be written. */
export type SafeTarget = { ok: true; path: string } | { ok: false; reason: string };

/**
 * Maps snapshot paths into a restore folder and rejects any that could end outside it: paths
 * with `..` or NUL, and paths below an existing symlink or non-folder inside the restore folder.
 * The restore folder itself may be a symlink, because the user chose it.
 *
 * NOTE: the check and the later write are separate steps, so a local process that swaps a
 * checked folder for a symlink in between can still redirect the write.
 */
export class SafeTargetResolver {
  readonly root: string;
  private readonly checkedFolders = new Set<string>();
  /** Folders that did not exist when checked; the restore creates them as real folders. */
  private readonly missingFolders = new Set<string>();

  constructor(root: string) {
    this.root = path.resolve(root);
  }

  /** Returns where `snapshotPath` lands under the restore folder, after checking its parents. */
  async resolve(snapshotPath: string): Promise<SafeTarget> {
    const target = joinUnderRoot(this.root, snapshotPath);
    if (target === null) {
      return { ok: false, reason: `path "${snapshotPath}" contains ".." or a NUL byte` };
    }
    if (target === this.root) return { ok: true, path: target };

    const problem = await this.checkParents(path.dirname(target));
    if (problem !== null) return { ok: false, reason: problem };
    return { ok: true, path: target };
  }

  private async checkParents(parent: string): Promise<string | null> {
    if (this.checkedFolders.has(parent) || this.missingFolders.has(parent)) return null;
    const relative = path.relative(this.root, parent);
    const names = relative === '' ? [] : relative.split(path.sep);

    let current = this.root;
    for (const name of names) {
      current = path.join(current, name);
      if (this.checkedFolders.has(current)) continue;
      if (this.missingFolders.has(current)) return null;

      let stats;
      try {
        stats = await fs.lstat(current);
      } catch (error) {
        // Nothing exists from here down, and the restore creates real folders in its place.
        if (isNotFound(error)) {
          this.missingFolders.add(current);
          return null;
        }
        throw error;
      }
      if (stats.isSymbolicLink()) return `parent folder "${current}" is a symlink`;
      if (!stats.isDirectory()) return `parent "${current}" is not a folder`;
      this.checkedFolders.add(current);
    }
    return null;
  }
}
