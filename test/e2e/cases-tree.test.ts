// Replays of failures reported against other backup and sync tools, caused by what a tree holds:
// symlink loops, unreadable entries, names that need escaping, empty folders and empty files.
import { chmod, chown, copyFile, mkdir, rename, rmdir, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import {
  addBackup,
  backUpNewTree,
  backupUntilMatches,
  restoredPath,
  restoreSnapshot,
  runBackup,
  totalUploads,
  type BackupRunResult,
} from '../helpers/backup.ts';
import { Agent } from '../helpers/agent.ts';
import { parseJsonOutput } from '../helpers/cli.ts';
import { downloadInstaller, enrollAgent, registerCompany, waitForResource, type Company, type EnrolledAgent } from '../helpers/company.ts';
import { startCoordinator } from '../helpers/coordinator.ts';
import { makeTempDir } from '../helpers/temp.ts';
import { countFiles, describeTree, expectTreeEquals, uniqueContent, writeTree, type TreeDescription, type TreeSpec } from '../helpers/tree.ts';
import { sleep } from '../helpers/wait.ts';

let alpha: Company;
let laptop: EnrolledAgent;

beforeAll(async () => {
  const coordinator = await startCoordinator();
  alpha = await registerCompany(coordinator, 'Alpha');
  laptop = await enrollAgent(alpha, 'laptop');
});

function backedUpTree(spec: TreeSpec) {
  return backUpNewTree(alpha, laptop.resourceId, spec);
}

function backupUntil(configId: number, source: string) {
  return backupUntilMatches(alpha, { configId, resourceId: laptop.resourceId, source });
}

async function expectLatestRestoresTo(configId: number, source: string, expected: TreeDescription): Promise<void> {
  const { result, to } = await restoreSnapshot(alpha, { configId, resourceId: laptop.resourceId });
  expect(result).toMatchObject(countFiles(expected));
  await expectTreeEquals(restoredPath(to, source), expected);
}

describe('symlink loops', () => {
  test('links are stored as links, not followed', async () => {
    const outside = await makeTempDir('outside');
    await writeTree(outside, { 'not-mine.txt': uniqueContent(1000) });

    const { source, tree, config, snapshot } = await backedUpTree({
      'a/b/loop': { symlink: '../..' },
      self: { symlink: 'self' },
      'a/file.txt': uniqueContent(10),
      'to-outside': { symlink: outside },
    });

    expect(snapshot).toMatchObject({ files: 1, bytes: 10 });
    await expectLatestRestoresTo(config.id, source, tree);
    expect(laptop.agent.process.running).toBe(true);

    // The watcher survived the loops: a later edit is still found.
    await writeFile(path.join(source, 'a', 'file.txt'), uniqueContent(11));
    await backupUntil(config.id, source);
  });
});

describe('unreadable entries', () => {
  // Root reads every file whatever its mode, so as root the agent runs as user nobody.
  const nobody = 65534;
  const user = process.getuid?.() === 0 ? { uid: nobody, gid: nobody } : {};

  /** Absolute paths of `source` that a warning of `run` names, relative to `source`. */
  function namedInWarnings(run: BackupRunResult, source: string, tree: TreeDescription): string[] {
    const warnings = run.warnings ?? [];
    return [...tree.keys()].filter((relative) => relative !== '.' && warnings.some((warning) => warning.includes(path.join(source, relative))));
  }

  test('are named in warnings and never counted as deleted', async () => {
    const stateDir = await makeTempDir('agent-unprivileged');
    const downloaded = await downloadInstaller(alpha);
    const installer = path.join(stateDir, path.basename(downloaded));
    await copyFile(downloaded, installer);
    if (user.uid !== undefined) await chown(installer, user.uid, user.gid);
    const agent = await Agent.start({ name: 'unprivileged', installer, stateDir, user });
    const { id: resourceId } = await waitForResource(alpha, 'unprivileged', true);

    const source = await makeTempDir('source');
    await writeTree(source, {
      'readable.txt': uniqueContent(10),
      'locked.txt': { file: uniqueContent(20), mode: 0o000 },
      'locked-dir': { dir: true, mode: 0o111 },
      'open-dir/inside.txt': uniqueContent(30),
    });
    const tree = await describeTree(source);
    // With the agent stopped, the run requested below is the config's first, full run.
    await agent.stop();
    const config = await addBackup(alpha, { name: 'unreadable', paths: [source], resourceId });
    const firstRun = alpha.spawnCli([
      'backup', 'run', String(config.id), '--company', String(alpha.companyId), '--resource', String(resourceId), '--wait', '--json',
    ]);
    await agent.start();
    const first = parseJsonOutput<BackupRunResult>(await firstRun.result);

    expect(first.status).toBe('completed_with_warnings');
    expect(namedInWarnings(first, source, tree).sort()).toEqual(['locked-dir', 'locked.txt']);
    const { to } = await restoreSnapshot(alpha, { configId: config.id, resourceId, snapshot: first.snapshotId, on: laptop.resourceId });
    const restored = await describeTree(restoredPath(to, source));
    expect(restored.get('readable.txt')?.sha256).toBe(tree.get('readable.txt')!.sha256);
    expect(restored.get('open-dir/inside.txt')?.sha256).toBe(tree.get('open-dir/inside.txt')!.sha256);

    // Once readable, the entries are taken.
    await chmod(path.join(source, 'locked.txt'), 0o644);
    await chmod(path.join(source, 'locked-dir'), 0o755);
    await backupUntilMatches(alpha, { configId: config.id, resourceId, source, restoreOn: laptop.resourceId });

    // Made unreadable again, they keep their earlier copies.
    const readable = await describeTree(source);
    await chmod(path.join(source, 'open-dir'), 0o000);
    await chmod(path.join(source, 'readable.txt'), 0o000);
    const right = await runBackup(alpha, config.id, resourceId);
    // NOTE: by now the watcher has had time to report the mode changes.
    await sleep(1500);
    const later = await runBackup(alpha, config.id, resourceId);
    for (const run of [right, later]) {
      const { to: target } = await restoreSnapshot(alpha, { configId: config.id, resourceId, snapshot: run.snapshotId, on: laptop.resourceId });
      const restoredTree = await describeTree(restoredPath(target, source));
      expect(restoredTree.get('readable.txt')?.sha256, `readable.txt in snapshot ${run.snapshotId}`).toBe(readable.get('readable.txt')!.sha256);
      expect(restoredTree.get('open-dir/inside.txt')?.sha256, `open-dir/inside.txt in snapshot ${run.snapshotId}`).toBe(readable.get('open-dir/inside.txt')!.sha256);
    }
  }, 90_000);
});

describe('odd names', () => {
  const names = [
    'price+tax.pdf',
    'a b.txt',
    'a+b.txt',
    'a%20b.txt',
    '100%.txt',
    '#1 notes.txt',
    'c++/main.cpp',
    'q?.txt',
    'x&y=z.txt',
    'star*.txt',
    '[brackets].txt',
    '{braces}.txt',
    'back\\slash.txt',
    'tab\there.txt',
    'new\nline.txt',
    'colon:name.txt',
    '-leading-dash.txt',
    ' leading space.txt',
    'trailing space ',
    '..double..dots..',
    'ünïcødé/ファイル.txt',
    'emoji 🎉.txt',
    `${'long-name-'.repeat(24)}.txt`,
  ];

  test('names round-trip and metadata changes send no content', async () => {
    const spec = Object.fromEntries(names.map((name, index) => [name, uniqueContent(50 + index)]));
    const { source, tree, config } = await backedUpTree(spec);

    await expectLatestRestoresTo(config.id, source, tree);

    // A change of mtime only: same bytes, so nothing is uploaded.
    const touched = new Date('2025-06-01T08:00:00Z');
    for (const name of names) await utimes(path.join(source, name), touched, touched);
    const touchRuns = await backupUntil(config.id, source);

    expect(totalUploads(touchRuns)).toEqual({ filesUploaded: 0, bytesUploaded: 0 });

    await rename(path.join(source, 'price+tax.pdf'), path.join(source, 'price tax.pdf'));
    const renameRuns = await backupUntil(config.id, source);

    expect(totalUploads(renameRuns)).toEqual({ filesUploaded: 0, bytesUploaded: 0 });
  }, 90_000);
});

describe('empty folders and files', () => {
  test('are restored and their removal is backed up', async () => {
    const { source, tree, config, snapshot } = await backedUpTree({
      'db/base/1/file': uniqueContent(100),
      'db/pg_tblspc': { dir: true },
      'db/pg_wal/archive_status': { dir: true },
      'db/empty.conf': '',
    });

    expect(snapshot).toMatchObject({ files: 2, bytes: 100 });
    await expectLatestRestoresTo(config.id, source, tree);

    await rmdir(path.join(source, 'db', 'pg_tblspc'));
    await backupUntil(config.id, source);
    await mkdir(path.join(source, 'db', 'new-empty'));
    await writeFile(path.join(source, 'db', 'another-empty.conf'), '');
    await backupUntil(config.id, source);
  }, 90_000);
});
