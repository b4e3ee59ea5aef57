import fs from 'node:fs';
import path from 'node:path';
import type { Sample } from './backup-restore.ts';
import { cpuOf, cpuSample, describeCpu } from './backup-restore.ts';
import { freshFolder, restic, rotate, timedStep, type BenchContext } from './context.ts';
import { SeededBytes, type Tree } from './data.ts';
import { timed } from './measure.ts';
import { BenchCluster, sleep } from './processes.ts';
import { backupFromConfigCreation, runBackupNow } from './syncctl-runs.ts';
import { runCommand } from './tools.ts';

export const changedFiles = 10;
export const addedFiles = 5;
export const deletedFiles = 5;

/**
 * Time in ms between the last edit and the timed run. The agent's watcher sends a batch 150 ms
 * after the last event, or at most 1 s after the first, so this leaves it time to report.
 */
const reportWaitMs = 2000;

const runTimeoutMs = 10 * 60_000;

export interface IncrementalResults {
  syncctl: Sample[];
  restic: Sample[];
}

/**
 * Times a backup of a copy of `tree` after 10 changed, 5 added and 5 deleted files. syncctl runs
 * its existing config, whose agent watched the edits, and restic backs up into the same
 * repository again. Each repetition edits other files of the same copy.
 */
export async function benchIncremental(context: BenchContext, tree: Tree, seed: string): Promise<IncrementalResults> {
  const results: IncrementalResults = { syncctl: [], restic: [] };
  const copy = path.join(freshFolder(context, 'incremental'), path.basename(tree.root));
  await runCommand('cp', ['-a', tree.root, copy]);

  const cluster = new BenchCluster(freshFolder(context, 'syncctl-incremental'), context.clusterOptions);
  await cluster.start();
  try {
    const agent = await cluster.startAgent('incremental');
    const first = await backupFromConfigCreation(cluster, cluster.company, agent.resourceId, 'incremental', [copy], runTimeoutMs);
    const repo = path.join(context.work, 'restic-incremental');
    if (context.peers.restic) {
      await restic(context, ['init', '--quiet', '--repo', repo]);
      await restic(context, ['backup', '--quiet', '--repo', repo, copy]);
    }
    context.log(`incremental: first backups of the copy done (${first.run.progress.files} files)`);

    const edits = new EditPlan(tree, copy, seed);
    for (let round = 0; round < context.repetitions; round += 1) {
      edits.apply(round);
      await sleep(reportWaitMs);
      const tools = context.peers.restic ? rotate(['syncctl', 'restic'] as const, round) : (['syncctl'] as const);
      for (const tool of tools) {
        if (tool === 'syncctl') {
          const before = cpuOf(cluster, agent);
          const { ms, result } = await timedStep(context, 'incremental A syncctl', () => runBackupNow(cluster, cluster.company, first.config.id, agent.resourceId, runTimeoutMs));
          const after = cpuOf(cluster, agent);
          const uploaded = result.progress.filesUploaded;
          if (result.progress.files !== tree.files || uploaded !== changedFiles + addedFiles) {
            throw new Error(`incremental syncctl run saw ${result.progress.files} files and uploaded ${uploaded}, expected ${tree.files} and ${changedFiles + addedFiles}`);
          }
          const sample = cpuSample(ms, before, after);
          results.syncctl.push(sample);
          context.log(describeCpu(sample));
          context.log(`incremental ${round + 1}/${context.repetitions}: syncctl ${Math.round(ms)} ms`);
        } else {
          const { ms } = await timed(() => restic(context, ['backup', '--quiet', '--repo', repo, copy]));
          results.restic.push({ ms });
          context.log(`incremental ${round + 1}/${context.repetitions}: restic ${Math.round(ms)} ms`);
        }
      }
    }
    context.peak.record('agent', 'incremental A', agent.child.pid);
    context.peak.record('coordinator', 'incremental A', cluster.coordinator?.pid);
  } finally {
    await cluster.stop();
  }
  return results;
}

/** Picks the files each repetition edits: seeded, and never a file that an earlier one touched. */
class EditPlan {
  private readonly tree: Tree;
  private readonly copy: string;
  private readonly seed: string;
  private readonly untouched: string[];

  constructor(tree: Tree, copy: string, seed: string) {
    this.tree = tree;
    this.copy = copy;
    this.seed = seed;
    this.untouched = [...tree.paths];
  }

  apply(round: number): void {
    const random = new SeededBytes(this.seed, `incremental-${round}`);
    const take = (): string => this.untouched.splice(random.nextInt(0, this.untouched.length - 1), 1)[0];
    for (let index = 0; index < changedFiles; index += 1) {
      fs.writeFileSync(path.join(this.copy, take()), random.next(random.nextInt(this.tree.spec.minBytes, this.tree.spec.maxBytes)));
    }
    for (let index = 0; index < deletedFiles; index += 1) fs.rmSync(path.join(this.copy, take()));
    for (let index = 0; index < addedFiles; index += 1) {
      const folder = path.dirname(this.tree.paths[random.nextInt(0, this.tree.paths.length - 1)]);
      const file = path.join(this.copy, folder, `added-${round}-${index}.bin`);
      fs.writeFileSync(file, random.next(random.nextInt(this.tree.spec.minBytes, this.tree.spec.maxBytes)));
    }
  }
}
