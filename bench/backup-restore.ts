import path from 'node:path';
import { checkCopy, freshFolder, rclone, restic, rotate, timedStep, type BenchContext } from './context.ts';
import type { Tree } from './data.ts';
import { processCpuMs, processCpuTimes, timed } from './measure.ts';
import { BenchCluster, type BenchAgent, type BenchCompany } from './processes.ts';
import { backupFromConfigCreation, restoreLatest } from './syncctl-runs.ts';

/** One timed operation: wall time, and CPU time of the syncctl agent and coordinator if it ran them. */
export interface Sample {
  ms: number;
  agentCpuMs?: number;
  /** The part of `agentCpuMs` spent in the kernel. */
  agentKernelCpuMs?: number;
  agentMinorFaults?: number;
  coordinatorCpuMs?: number;
}

export interface TreeResults {
  backup: { syncctl: Sample[]; restic: Sample[]; rclone: Sample[] };
  restore: { syncctl: Sample[]; restic: Sample[] };
}

type BackupTool = 'syncctl' | 'restic';

const runTimeoutMs = 15 * 60_000;

/** The syncctl side of one repetition: a company of its own (so a fresh bucket) and its agent. */
interface SyncctlTarget {
  company: BenchCompany;
  agent: BenchAgent;
  configId: number;
}

/**
 * Times the initial backup of `tree` with syncctl, restic and rclone, each into a fresh target,
 * in rotating order, then restores the last syncctl and restic backups into fresh folders.
 */
export async function benchBackupAndRestore(context: BenchContext, tree: Tree, label: string): Promise<TreeResults> {
  const results: TreeResults = { backup: { syncctl: [], restic: [], rclone: [] }, restore: { syncctl: [], restic: [] } };
  // rclone runs after the rounds of the other two. A tool that started after `rclone copy` created
  // 20,000 files took about 1.8 times as long, even 15 s later. In rotation that penalty fell on
  // syncctl twice and on restic once.
  const tools: BackupTool[] = ['syncctl'];
  if (context.peers.restic) tools.push('restic');
  const rounds = context.repetitions + (context.warmUp ? 1 : 0);
  const rcloneRounds = context.peers.rclone ? rounds : 0;

  const cluster = new BenchCluster(freshFolder(context, `syncctl-${label}`), context.clusterOptions);
  await cluster.start();
  let lastSyncctl: SyncctlTarget | null = null;
  let lastResticRepo: string | null = null;
  try {
    for (let round = 0; round < rounds; round += 1) {
      const warmUp = context.warmUp && round === 0;
      const tag = warmUp ? 'warm-up' : `${round + (context.warmUp ? 0 : 1)}/${context.repetitions}`;
      for (const tool of rotate(tools, round)) {
        const name = `${label}-${round}`;
        if (tool === 'syncctl') {
          if (lastSyncctl !== null) await cluster.stopProcess(lastSyncctl.agent.child);
          const { target, sample } = await syncctlBackup(context, cluster, tree, label, name);
          lastSyncctl = target;
          context.peak.record('agent', `initial backup ${label}`, target.agent.child.pid);
          if (!warmUp) results.backup.syncctl.push(sample);
          context.log(`initial backup ${label} ${tag}: syncctl ${(sample.ms / 1000).toFixed(2)} s`);
        } else {
          const repo = path.join(context.work, `restic-${name}`);
          await restic(context, ['init', '--quiet', '--repo', repo]);
          const { ms } = await timed(() => restic(context, ['backup', '--quiet', '--repo', repo, tree.root]));
          lastResticRepo = repo;
          if (!warmUp) results.backup.restic.push({ ms });
          context.log(`initial backup ${label} ${tag}: restic ${(ms / 1000).toFixed(2)} s`);
        }
      }
    }
    for (let round = 0; round < rcloneRounds; round += 1) {
      const warmUp = context.warmUp && round === 0;
      const tag = warmUp ? 'warm-up' : `${round + (context.warmUp ? 0 : 1)}/${context.repetitions}`;
      const target = path.join(context.work, `rclone-${label}-${round}`);
      const { ms } = await timed(() => rclone(context, ['copy', tree.root, target]));
      checkCopy('rclone copy', target, tree);
      if (!warmUp) results.backup.rclone.push({ ms });
      context.log(`initial backup ${label} ${tag}: rclone ${(ms / 1000).toFixed(2)} s`);
    }
    context.peak.record('coordinator', `initial backup ${label}`, cluster.coordinator?.pid);

    for (let round = 0; round < context.repetitions; round += 1) {
      const order: Array<'syncctl' | 'restic'> = lastResticRepo === null ? ['syncctl'] : rotate(['syncctl', 'restic'], round);
      for (const tool of order) {
        const to = freshFolder(context, `restore-${tool}-${label}-${round}`);
        if (tool === 'syncctl') {
          const sample = await syncctlRestore(context, `restore ${label} syncctl`, cluster, lastSyncctl!, to);
          checkCopy('syncctl restore', path.join(to, tree.root), tree);
          results.restore.syncctl.push(sample);
          context.log(`restore ${label} ${round + 1}/${context.repetitions}: syncctl ${(sample.ms / 1000).toFixed(2)} s`);
        } else {
          const { ms } = await timed(() => restic(context, ['restore', 'latest', '--quiet', '--repo', lastResticRepo!, '--target', to]));
          checkCopy('restic restore', path.join(to, tree.root), tree);
          results.restore.restic.push({ ms });
          context.log(`restore ${label} ${round + 1}/${context.repetitions}: restic ${(ms / 1000).toFixed(2)} s`);
        }
      }
    }
    context.peak.record('agent', `restore ${label}`, lastSyncctl?.agent.child.pid);
    context.peak.record('coordinator', `restore ${label}`, cluster.coordinator?.pid);
  } finally {
    await cluster.stop();
  }
  return results;
}

/** Enrolls a fresh company and agent, then times the config creation until its snapshot is committed. */
async function syncctlBackup(context: BenchContext, cluster: BenchCluster, tree: Tree, label: string, name: string): Promise<{ target: SyncctlTarget; sample: Sample }> {
  const company = await cluster.addCompany();
  const agent = await cluster.startAgent(name, company);
  const cpuBefore = cpuOf(cluster, agent);
  const { ms, result } = await timedStep(context, `initial backup ${label} syncctl`, () => backupFromConfigCreation(cluster, company, agent.resourceId, name, [tree.root], runTimeoutMs));
  const cpuAfter = cpuOf(cluster, agent);
  const sample = cpuSample(ms, cpuBefore, cpuAfter);
  if (result.run.progress.files !== tree.files) {
    throw new Error(`syncctl snapshot of ${tree.root} has ${result.run.progress.files} files, expected ${tree.files}`);
  }
  context.log(describeCpu(sample));
  return { target: { company, agent, configId: result.config.id }, sample };
}

async function syncctlRestore(context: BenchContext, label: string, cluster: BenchCluster, target: SyncctlTarget, to: string): Promise<Sample> {
  const cpuBefore = cpuOf(cluster, target.agent);
  const { ms } = await timedStep(context, label, () => restoreLatest(cluster, target.company, target.configId, target.agent.resourceId, to, runTimeoutMs));
  const sample = cpuSample(ms, cpuBefore, cpuOf(cluster, target.agent));
  context.log(describeCpu(sample));
  return sample;
}

export function describeCpu(sample: Sample): string {
  const agent = `agent CPU ${Math.round(sample.agentCpuMs!)} ms (${Math.round(sample.agentKernelCpuMs!)} ms in the kernel, ${sample.agentMinorFaults} minor page faults)`;
  return `  syncctl ${agent}, coordinator CPU ${Math.round(sample.coordinatorCpuMs!)} ms`;
}

/** CPU times so far, in ms, of an agent and of its coordinator. */
export interface ClusterCpu {
  agent: number;
  agentKernel: number;
  agentMinorFaults: number;
  coordinator: number;
}

export function cpuOf(cluster: BenchCluster, agent: BenchAgent): ClusterCpu {
  const agentTimes = processCpuTimes(agent.child.pid!);
  return {
    agent: agentTimes.userMs + agentTimes.systemMs,
    agentKernel: agentTimes.systemMs,
    agentMinorFaults: agentTimes.minorFaults,
    coordinator: processCpuMs(cluster.coordinator!.pid!),
  };
}

/** Returns a sample of wall time `ms` with the CPU used between two readings of `cpuOf`. */
export function cpuSample(ms: number, before: ClusterCpu, after: ClusterCpu): Sample {
  return {
    ms,
    agentCpuMs: after.agent - before.agent,
    agentKernelCpuMs: after.agentKernel - before.agentKernel,
    agentMinorFaults: after.agentMinorFaults - before.agentMinorFaults,
    coordinatorCpuMs: after.coordinator - before.coordinator,
  };
}
