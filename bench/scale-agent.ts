import { freshFolder, timedStep, type BenchContext } from './context.ts';
import type { Tree } from './data.ts';
import { median, processCpuMs, processMemory } from './measure.ts';
import { BenchCluster, sleep } from './processes.ts';
import { backupFromConfigCreation } from './syncctl-runs.ts';

export interface AgentWatchResults {
  files: number;
  folders: number;
  /** ms from creating the config to its first snapshot. */
  firstBackupMs: number;
  /** Resident memory at the end of each idle window. */
  rssBytes: number[];
  /** CPU use in each idle window, in percent of one core. */
  idleCpuPercent: number[];
  peakRssBytes: number;
}

/**
 * Measures an agent that watches a large tree. The agent backs the tree up once (the first push
 * of a new config) and settles. Then its CPU use and resident memory are sampled over idle
 * windows in which nothing in the tree changes.
 */
export async function benchAgentWatch(context: BenchContext, tree: Tree): Promise<AgentWatchResults> {
  const windowMs = context.quick ? 3000 : 10_000;
  const settleMs = context.quick ? 2000 : 5000;
  const cluster = new BenchCluster(freshFolder(context, 'syncctl-watch'), context.clusterOptions);
  await cluster.start();
  try {
    const agent = await cluster.startAgent('watch');
    const pid = agent.child.pid!;
    const { ms } = await timedStep(context, `first backup of ${tree.files} files`, () => backupFromConfigCreation(cluster, cluster.company, agent.resourceId, 'watch', [tree.root], 20 * 60_000));
    context.log(`watch: first backup of ${tree.files} files took ${(ms / 1000).toFixed(1)} s; sampling idle windows of ${windowMs / 1000} s`);
    await sleep(settleMs);

    const results: AgentWatchResults = { files: tree.files, folders: tree.spec.folders, firstBackupMs: ms, rssBytes: [], idleCpuPercent: [], peakRssBytes: 0 };
    for (let round = 0; round < context.repetitions; round += 1) {
      let cpuBefore = 0;
      const { ms: elapsedMs } = await timedStep(context, `idle watching ${tree.files} files`, async () => {
        cpuBefore = processCpuMs(pid);
        await sleep(windowMs);
      });
      const cpuMs = processCpuMs(pid) - cpuBefore;
      results.idleCpuPercent.push((100 * cpuMs) / elapsedMs);
      results.rssBytes.push(processMemory(pid).rssBytes);
      context.log(`watch: idle window ${round + 1}/${context.repetitions}: CPU ${results.idleCpuPercent.at(-1)!.toFixed(2)}% of a core, RSS ${Math.round(results.rssBytes.at(-1)! / 1e6)} MB`);
    }
    results.peakRssBytes = processMemory(pid).peakRssBytes;
    context.peak.record('agent', `watching ${tree.files} files`, pid);
    context.peak.record('coordinator', `watching ${tree.files} files`, cluster.coordinator?.pid);
    context.log(`watch: RSS ${Math.round(median(results.rssBytes) / 1e6)} MB, idle CPU ${median(results.idleCpuPercent).toFixed(2)}% of a core`);
    return results;
  } finally {
    await cluster.stop();
  }
}
