import fs from 'node:fs';
import path from 'node:path';
import { ConfigWatcher } from '../agent/watcher/config-watcher.ts';
import { createPathFilter } from '../agent/watcher/path-filter.ts';

/**
 * Starts the agent's ConfigWatcher on one folder in this process, with nothing else of the agent
 * running, and prints what it costs. The output gives the time until the watcher is ready, the
 * growth of resident memory and of the V8 heap, and the number of inotify watches held.
 *
 * Usage: node --import tsx --expose-gc bench/diagnose-watch.ts FOLDER
 */

/** Counts the inotify watches of this process from the fdinfo of its inotify descriptors. */
function inotifyWatches(): number {
  let watches = 0;
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    let target = '';
    try {
      target = fs.readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue;
    }
    if (target !== 'anon_inode:inotify') continue;
    const info = fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8');
    watches += info.split('\n').filter((line) => line.startsWith('inotify ')).length;
  }
  return watches;
}

function memoryNow(): { rss: number; heapUsed: number } {
  (globalThis as { gc?: () => void }).gc?.();
  const usage = process.memoryUsage();
  return { rss: usage.rss, heapUsed: usage.heapUsed };
}

function countEntries(root: string): { files: number; folders: number } {
  let files = 0;
  let folders = 0;
  const pending = [root];
  while (pending.length > 0) {
    for (const entry of fs.readdirSync(pending.pop()!, { withFileTypes: true })) {
      if (entry.isDirectory()) {
        folders += 1;
        pending.push(path.join(entry.parentPath, entry.name));
      } else files += 1;
    }
  }
  return { files, folders };
}

async function main(): Promise<void> {
  const folder = process.argv[2];
  if (folder === undefined || !path.isAbsolute(folder)) {
    process.stderr.write('Usage: node --import tsx --expose-gc bench/diagnose-watch.ts ABSOLUTE_FOLDER\n');
    process.exit(2);
  }
  const entries = countEntries(folder);
  const before = memoryNow();
  const watcher = new ConfigWatcher(createPathFilter({ includePaths: [folder], excludePaths: [] }));
  const started = performance.now();
  await watcher.start();
  const readyMs = performance.now() - started;
  const after = memoryNow();
  const watches = inotifyWatches();
  const perEntry = (bytes: number): string => `${Math.round(bytes / (entries.files + entries.folders))} bytes per file or folder`;

  process.stdout.write(
    [
      `${folder}: ${entries.files} files in ${entries.folders} folders`,
      `watcher ready after ${Math.round(readyMs)} ms`,
      `inotify watches held: ${watches}`,
      `RSS grew by ${Math.round((after.rss - before.rss) / 1e6)} MB (${perEntry(after.rss - before.rss)})`,
      `V8 heap used grew by ${Math.round((after.heapUsed - before.heapUsed) / 1e6)} MB (${perEntry(after.heapUsed - before.heapUsed)})`,
    ].join('\n') + '\n',
  );
  await watcher.close();
}

await main();
