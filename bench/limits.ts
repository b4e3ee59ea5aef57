import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { freshFolder, type BenchContext } from './context.ts';
import type { Tree } from './data.ts';
import { timed } from './measure.ts';
import { runShell } from './tools.ts';

export interface TreeLimits {
  /** ms to read every file with `cat` into /dev/null. */
  readMs: number[];
  /** ms to read every file and SHA-256 it with Node's crypto on one core. */
  hashMs: number[];
  /**
   * ms to copy the tree with `cp -r` into a fresh folder on the same disk. Not part of the limit
   * the targets name, but a floor for any tool that writes a copy of the data, as a backup to a
   * store on the same disk does.
   */
  copyMs: number[];
}

function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/**
 * Reads and hashes the tree one file at a time with synchronous calls and a reused 1 MiB buffer:
 * the least work per file that Node allows, so its time is the single-core hashing limit.
 */
function hashTree(tree: Tree): void {
  const buffer = Buffer.allocUnsafe(1 << 20);
  for (const relative of tree.paths) {
    const hash = createHash('sha256');
    const descriptor = fs.openSync(path.join(tree.root, relative), 'r');
    try {
      for (let read = fs.readSync(descriptor, buffer); read > 0; read = fs.readSync(descriptor, buffer)) hash.update(buffer.subarray(0, read));
    } finally {
      fs.closeSync(descriptor);
    }
    hash.digest();
  }
}

/** Measures the machine's limits for a tree with a warm page cache: reading it, and hashing it. */
export async function measureTreeLimits(context: BenchContext, tree: Tree): Promise<TreeLimits> {
  const limits: TreeLimits = { readMs: [], hashMs: [], copyMs: [] };
  const readAll = `find ${shellQuote(tree.root)} -type f -print0 | xargs -0 cat > /dev/null`;
  await runShell(readAll);
  for (let round = 0; round < context.repetitions; round += 1) {
    limits.readMs.push((await timed(() => runShell(readAll))).ms);
    limits.hashMs.push((await timed(async () => hashTree(tree))).ms);
    const target = path.join(freshFolder(context, `copy-${path.basename(tree.root)}-${round}`), 'copy');
    limits.copyMs.push((await timed(() => runShell(`cp -r ${shellQuote(tree.root)} ${shellQuote(target)}`))).ms);
  }
  return limits;
}
