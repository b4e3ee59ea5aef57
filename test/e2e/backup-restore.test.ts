import { chmod, cp, mkdir, readdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { errorCodes } from '../../src/protocol/errors.ts';
import {
  addBackup,
  backUpNewTree,
  backupUntilMatches,
  listSnapshots,
  restoredPath,
  restoreArgs,
  restoreSnapshot,
  runBackup,
  snapshotIdsOldestFirst,
  totalUploads,
  waitForSnapshots,
} from '../helpers/backup.ts';
import { deferCleanup } from '../helpers/cleanup.ts';
import { enrollAgent, registerCompany, type Company, type EnrolledAgent } from '../helpers/company.ts';
import { startCoordinator, type Coordinator } from '../helpers/coordinator.ts';
import { makeTempDir } from '../helpers/temp.ts';
import {
  countFiles,
  describeTree,
  expectTreeEquals,
  strayEntries,
  subtree,
  uniqueContent,
  writeTree,
  type DiffOptions,
  type TreeDescription,
  type TreeSpec,
} from '../helpers/tree.ts';

let coordinator: Coordinator;
let alpha: Company;
let laptop: EnrolledAgent;
let server: EnrolledAgent;

beforeAll(async () => {
  coordinator = await startCoordinator();
  alpha = await registerCompany(coordinator, 'Alpha');
  laptop = await enrollAgent(alpha, 'laptop');
  server = await enrollAgent(alpha, 'server');
});

/** Names that break naive URL, shell or glob handling, next to the other kinds of entry. */
function awkwardTree(): TreeSpec {
  return {
    'a b.txt': uniqueContent(100),
    'a+b.txt': uniqueContent(101),
    '#1 notes.txt': uniqueContent(102),
    '100%.txt': uniqueContent(103),
    'price+tax.pdf': uniqueContent(104),
    'ünïcødé/文件 ☃.txt': uniqueContent(200),
    'empty.txt': '',
    'empty-dir': { dir: true },
    'read-only-dir': { dir: true, mode: 0o555 },
    'nested/deep/data.bin': uniqueContent(64 * 1024),
    // Above the 1 MiB limit for packed contents, so it is stored as an object of its own.
    'large.bin': uniqueContent(3 * 1024 * 1024 + 17),
    'scripts/run.sh': { file: '#!/bin/sh\necho hello\n', mode: 0o755 },
    'private.key': { file: uniqueContent(32), mode: 0o600 },
    'old.txt': { file: 'written long ago', mtime: new Date('2001-09-09T01:46:40Z') },
    'link-to-file': { symlink: 'a b.txt' },
    'link-dangling': { symlink: 'does/not/exist' },
    'link-absolute': { symlink: '/etc/hostname' },
    'nested/link-up': { symlink: '../a b.txt' },
  };
}

/** Backs up a new tree on `resource` (the laptop when omitted) and waits for the initial snapshot. */
function backedUpTree(spec: TreeSpec, resource: EnrolledAgent = laptop) {
  return backUpNewTree(alpha, resource.resourceId, spec);
}

async function expectRestoreEquals(
  configId: number,
  snapshot: number | 'latest',
  source: string,
  expected: TreeDescription,
  options: DiffOptions = {},
): Promise<void> {
  const { result, to } = await restoreSnapshot(alpha, { configId, resourceId: laptop.resourceId, snapshot });

  expect(result).toMatchObject(countFiles(expected));
  await expectTreeEquals(restoredPath(to, source), expected, options);
}

/**
 * Counts the content objects (packs and whole objects) in the company's bucket of the local
 * store, found as a folder named after the bucket in the coordinator's data folder.
 */
async function countStoredContents(): Promise<number> {
  const entries = await readdir(coordinator.dataDir, { recursive: true, withFileTypes: true });
  const bucketDir = entries.find((entry) => entry.isDirectory() && entry.name === alpha.bucket);
  expect(bucketDir, `folder of bucket ${alpha.bucket} under ${coordinator.dataDir}`).toBeDefined();

  const bucketPath = path.join(bucketDir!.parentPath, bucketDir!.name);
  let count = 0;
  for (const prefix of ['packs', 'objects']) {
    const files = await readdir(path.join(bucketPath, prefix), { recursive: true, withFileTypes: true }).catch(() => []);
    count += files.filter((entry) => entry.isFile()).length;
  }
  return count;
}

describe('full backup', () => {
  test('new config gets an initial full push', async () => {
    const { tree, snapshot } = await backedUpTree({ 'one.txt': uniqueContent(10), 'dir/two.txt': uniqueContent(20) });

    expect(snapshot).toMatchObject({ files: 2, bytes: 30 });
    expect(countFiles(tree)).toEqual({ files: 2, bytes: 30 });
    expect(Number.isNaN(Date.parse(snapshot.createdAt))).toBe(false);
  });

  test('restores byte for byte', async () => {
    const { source, tree, config, snapshot } = await backedUpTree(awkwardTree());

    expect({ files: snapshot.files, bytes: snapshot.bytes }).toEqual(countFiles(tree));
    const { result, to } = await restoreSnapshot(alpha, { configId: config.id, resourceId: laptop.resourceId });

    expect(result).toMatchObject(countFiles(tree));
    await expectTreeEquals(restoredPath(to, source), tree);
    expect(await strayEntries(to, source)).toEqual([]);
  });

  test('restores over existing files', async () => {
    const outside = await makeTempDir('outside-existing');
    await writeFile(path.join(outside, 'kept.txt'), 'outside file');
    const { source, tree, config } = await backedUpTree({
      'changed.txt': { file: uniqueContent(300), mode: 0o640, mtime: new Date('2010-01-01T00:00:00Z') },
      'link-target.txt': uniqueContent(301),
      'dir/large.bin': uniqueContent(2 * 1024 * 1024 + 5),
    });
    const to = await makeTempDir('restore-existing');
    const restored = restoredPath(to, source);
    await mkdir(path.join(restored, 'dir'), { recursive: true });
    await writeFile(path.join(restored, 'changed.txt'), 'stale content that is longer than nothing');
    await chmod(path.join(restored, 'changed.txt'), 0o666);
    // A symlink where the snapshot has a file is replaced, never written through.
    await symlink(path.join(outside, 'kept.txt'), path.join(restored, 'link-target.txt'));
    await writeFile(path.join(restored, 'dir/large.bin'), 'short');

    const { result } = await restoreSnapshot(alpha, { configId: config.id, resourceId: laptop.resourceId, to });

    expect(result).toMatchObject(countFiles(tree));
    await expectTreeEquals(restored, tree);
    expect(await readFile(path.join(outside, 'kept.txt'), 'utf8')).toBe('outside file');
    expect(await strayEntries(to, source)).toEqual([]);
  });

  test('unchanged tree uploads nothing', async () => {
    const { source, tree, config } = await backedUpTree({ 'same.txt': uniqueContent(500), 'dir/same.bin': uniqueContent(600) });

    const run = await runBackup(alpha, config.id, laptop.resourceId);

    expect(run).toMatchObject({ filesUploaded: 0, bytesUploaded: 0, files: 2 });
    await expectRestoreEquals(config.id, run.snapshotId, source, tree);
  });

  test('exclude patterns leave matching entries out', async () => {
    const spec = {
      'keep.txt': uniqueContent(10),
      'skip.tmp': uniqueContent(11),
      'sub/also.tmp': uniqueContent(12),
      'sub/keep.md': uniqueContent(13),
      'app/cache/blob.bin': uniqueContent(14),
      'app/cache/more/blob.bin': uniqueContent(15),
      'app/main.js': uniqueContent(16),
    };
    const source = await makeTempDir('source');
    await writeTree(source, spec);
    const full = await describeTree(source);
    const config = await addBackup(alpha, {
      name: 'with excludes',
      paths: [source],
      resourceId: laptop.resourceId,
      exclude: ['*.tmp', `${source}/**/cache`],
    });

    const [snapshot] = await waitForSnapshots(alpha, config.id, laptop.resourceId, 1);

    const expected = new Map([...full].filter(([relative]) => !relative.endsWith('.tmp') && !relative.startsWith('app/cache')));
    expect(snapshot).toMatchObject(countFiles(expected));
    const { to } = await restoreSnapshot(alpha, { configId: config.id, resourceId: laptop.resourceId });
    await expectTreeEquals(restoredPath(to, source), expected);
  });
});

describe('package tree', () => {
  // A real tree of many small files: the zod package as npm installed it for this project.
  const zodPackage = fileURLToPath(new URL('../../node_modules/zod', import.meta.url));

  test('many small files share few stored objects', async () => {
    const source = await makeTempDir('package-source');
    await cp(zodPackage, source, { recursive: true, preserveTimestamps: true, verbatimSymlinks: true });
    const tree = await describeTree(source);
    const { files } = countFiles(tree);
    expect(files).toBeGreaterThan(500);
    const storedBefore = await countStoredContents();

    const config = await addBackup(alpha, { name: 'zod package', paths: [source], resourceId: laptop.resourceId });
    const [snapshot] = await waitForSnapshots(alpha, config.id, laptop.resourceId, 1, 60_000);

    expect(snapshot).toMatchObject(countFiles(tree));
    // Hundreds of small contents go into a few packs of about 8 MiB, not one object each.
    expect(await countStoredContents() - storedBefore).toBeLessThanOrEqual(5);
    await expectRestoreEquals(config.id, snapshot.id, source, tree);

    await rm(path.join(source, 'src'), { recursive: true, force: true });
    await writeFile(path.join(source, 'package.json'), uniqueContent(2048));
    await writeFile(path.join(source, 'ADDED.md'), uniqueContent(512));
    const runs = await backupUntilMatches(alpha, { configId: config.id, resourceId: laptop.resourceId, source, timeoutMs: 60_000 });

    expect(totalUploads(runs)).toEqual({ filesUploaded: 2, bytesUploaded: 2048 + 512 });
    await expectRestoreEquals(config.id, snapshot.id, source, tree);
  }, 120_000);
});

describe('incremental backup', () => {
  test('run uploads only changed files', async () => {
    const spec = Object.fromEntries([1, 2, 3, 4, 5].map((n) => [`file-${n}.txt`, uniqueContent(1000 * n)]));
    const { source, config } = await backedUpTree(spec);

    await writeFile(path.join(source, 'file-2.txt'), uniqueContent(1234));
    await writeFile(path.join(source, 'file-6.txt'), uniqueContent(777));
    const runs = await backupUntilMatches(alpha, { configId: config.id, resourceId: laptop.resourceId, source });

    expect(totalUploads(runs)).toEqual({ filesUploaded: 2, bytesUploaded: 1234 + 777 });
    expect(runs.at(-1)!.files).toBe(6);
    const idle = await runBackup(alpha, config.id, laptop.resourceId);
    expect(idle).toMatchObject({ files: 6, filesUploaded: 0, bytesUploaded: 0 });
  });

  test('run request waits until the run finishes', async () => {
    const { source, config } = await backedUpTree({ 'first.txt': uniqueContent(900) });
    await writeFile(path.join(source, 'second.txt'), uniqueContent(901));

    const started = await alpha.api('POST', `/companies/${alpha.companyId}/backup-configs/${config.id}/runs`, {
      json: { resourceId: laptop.resourceId },
    });
    expect(started.status, started.text).toBe(202);
    const runId = started.body.runs[0].id as number;
    const waited = await alpha.api('GET', `/companies/${alpha.companyId}/runs/${runId}?waitSeconds=30`);

    expect(waited.status, waited.text).toBe(200);
    expect(waited.body.status).toBe('completed');
    for (const value of ['-1', '61', '1.5', 'soon']) {
      const rejected = await alpha.api('GET', `/companies/${alpha.companyId}/runs/${runId}?waitSeconds=${value}`);
      expect(rejected.status, `waitSeconds=${value}`).toBe(400);
      expect(rejected.text).toContain('waitSeconds');
    }
  });

  test('deletes and renames between snapshots', async () => {
    const { source, tree: before, config, snapshot: first } = await backedUpTree({
      'a.txt': uniqueContent(300),
      'b.txt': uniqueContent(400),
      'keep/c.txt': uniqueContent(500),
    });

    await rm(path.join(source, 'b.txt'));
    await rename(path.join(source, 'a.txt'), path.join(source, 'renamed a.txt'));
    const runs = await backupUntilMatches(alpha, { configId: config.id, resourceId: laptop.resourceId, source });
    const after = await describeTree(source);

    expect(totalUploads(runs).bytesUploaded).toBe(0);
    await expectRestoreEquals(config.id, first.id, source, before);
    // Folder mtimes after a change have a test of their own.
    await expectRestoreEquals(config.id, 'latest', source, after, { folderMtimes: false });
    const snapshots = await listSnapshots(alpha, config.id, laptop.resourceId);
    const ids = snapshotIdsOldestFirst(snapshots);
    expect(ids[0]).toBe(first.id);
    expect(snapshots.find((entry) => entry.id === ids.at(-1))).toMatchObject({ files: 2, bytes: 800 });
  });

  test('mode change alone is backed up', async () => {
    const { source, config } = await backedUpTree({ 'run.sh': { file: 'echo hi', mode: 0o644 } });
    await readFile(path.join(source, 'run.sh'));

    await chmod(path.join(source, 'run.sh'), 0o755);
    const runs = await backupUntilMatches(alpha, { configId: config.id, resourceId: laptop.resourceId, source, timeoutMs: 15_000 });

    expect(totalUploads(runs).bytesUploaded).toBe(0);
  });

  test('folder mtimes follow changes inside them', async () => {
    const { source, config } = await backedUpTree({ 'dir/a.txt': uniqueContent(10), 'dir/sub/b.txt': uniqueContent(20) });

    await writeFile(path.join(source, 'dir', 'new.txt'), uniqueContent(30));
    await rm(path.join(source, 'dir', 'sub', 'b.txt'));
    await rename(path.join(source, 'dir', 'a.txt'), path.join(source, 'a.txt'));

    await backupUntilMatches(alpha, { configId: config.id, resourceId: laptop.resourceId, source, folderMtimes: true, timeoutMs: 15_000 });
  });

  test('folder replaced by a file and back', async () => {
    const { source, config } = await backedUpTree({ 'thing/inside.txt': uniqueContent(50) });

    await rm(path.join(source, 'thing'), { recursive: true });
    await writeFile(path.join(source, 'thing'), uniqueContent(60));
    await backupUntilMatches(alpha, { configId: config.id, resourceId: laptop.resourceId, source });
    await rm(path.join(source, 'thing'));
    await mkdir(path.join(source, 'thing'));
    await writeFile(path.join(source, 'thing', 'again.txt'), uniqueContent(70));
    await backupUntilMatches(alpha, { configId: config.id, resourceId: laptop.resourceId, source });
  });
});

describe('config changes', () => {
  test('path change pushes the new paths in full', async () => {
    const { source: oldSource, config } = await backedUpTree({ 'old.txt': uniqueContent(10) });
    const newSource = await makeTempDir('new-source');
    await writeTree(newSource, { 'new.txt': uniqueContent(20), 'deeper/more.txt': uniqueContent(30) });
    const newTree = await describeTree(newSource);

    await alpha.cliJson([
      'backup', 'update', String(config.id), '--company', String(alpha.companyId), '--path', newSource, '--json',
    ]);
    const snapshots = await waitForSnapshots(alpha, config.id, laptop.resourceId, 2);
    const latest = snapshotIdsOldestFirst(snapshots).at(-1)!;
    const { to } = await restoreSnapshot(alpha, { configId: config.id, resourceId: laptop.resourceId, snapshot: latest });

    await expectTreeEquals(restoredPath(to, newSource), newTree);
    expect(await strayEntries(to, newSource)).toEqual([]);

    // The new path is watched, and the old one is left alone.
    await writeFile(path.join(oldSource, 'old-after.txt'), uniqueContent(40));
    await writeFile(path.join(newSource, 'new-after.txt'), uniqueContent(50));
    const runs = await backupUntilMatches(alpha, { configId: config.id, resourceId: laptop.resourceId, source: newSource });
    expect(totalUploads(runs)).toEqual({ filesUploaded: 1, bytesUploaded: 50 });
    const { to: later } = await restoreSnapshot(alpha, { configId: config.id, resourceId: laptop.resourceId });
    expect(await strayEntries(later, newSource)).toEqual([]);
  });

  test('deleted config stays restorable', async () => {
    const { source, tree, config, snapshot } = await backedUpTree({ 'kept.txt': uniqueContent(10) });

    const deleted = await alpha.cli(['backup', 'delete', String(config.id), '--company', String(alpha.companyId)]);

    expect(deleted.code, deleted.stderr).toBe(0);
    const snapshots = await listSnapshots(alpha, config.id, laptop.resourceId);
    expect(snapshots.map((entry) => entry.id)).toContain(snapshot.id);
    await expectRestoreEquals(config.id, snapshot.id, source, tree);
  });
});

describe('restore', () => {
  test('--path restores one folder only', async () => {
    const { source, tree, config } = await backedUpTree(awkwardTree());
    const part = path.join(source, 'nested');

    const { result, to } = await restoreSnapshot(alpha, { configId: config.id, resourceId: laptop.resourceId, path: part });

    const expected = subtree(tree, 'nested');
    expect(result).toMatchObject(countFiles(expected));
    await expectTreeEquals(restoredPath(to, part), expected);
    expect(await strayEntries(to, part)).toEqual([]);
  });

  test('--path of a single file', async () => {
    const { source, tree, config } = await backedUpTree(awkwardTree());
    const file = path.join(source, 'ünïcødé/文件 ☃.txt');

    const { result, to } = await restoreSnapshot(alpha, { configId: config.id, resourceId: laptop.resourceId, path: file });

    expect(result).toMatchObject({ files: 1, bytes: 200 });
    await expectTreeEquals(restoredPath(to, file), subtree(tree, 'ünïcødé/文件 ☃.txt'));
    expect(await strayEntries(to, file)).toEqual([]);
  });

  test('--path outside the snapshot fails', async () => {
    const { source, config } = await backedUpTree(awkwardTree());
    const to = await makeTempDir('restore-missing-path');

    const result = await alpha.cli([...restoreArgs(alpha, { configId: config.id, resourceId: laptop.resourceId, to, path: path.join(source, 'no such folder') })]);

    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/no such folder.* is not in snapshot/);
  });

  test('--on writes on another resource', async () => {
    const origin = await enrollAgent(alpha, 'origin');
    const { source, tree, config } = await backedUpTree(awkwardTree(), origin);
    // With the origin stopped, only the other resource can carry out the restore.
    await origin.agent.stop();

    const to = await makeTempDir('restore-on');
    const result = await alpha.cliJson(
      restoreArgs(alpha, { configId: config.id, resourceId: origin.resourceId, to, on: server.resourceId }),
      { timeoutMs: 40_000 },
    );

    expect(result).toMatchObject(countFiles(tree));
    await expectTreeEquals(restoredPath(to, source), tree);
  }, 90_000);

  test('writes nothing outside the target', async () => {
    const outside = await makeTempDir('outside');
    const { source, config, snapshot: first } = await backedUpTree({ 'dir/secret.txt': uniqueContent(40) });
    // In the next snapshot, `dir` is a symlink that leads out of the tree.
    await rm(path.join(source, 'dir'), { recursive: true });
    await symlink(outside, path.join(source, 'dir'));
    await backupUntilMatches(alpha, { configId: config.id, resourceId: laptop.resourceId, source });

    // Restoring the symlink and then the older folder into one target must not follow the link.
    const { to } = await restoreSnapshot(alpha, { configId: config.id, resourceId: laptop.resourceId });
    const overLink = await alpha.cli(restoreArgs(alpha, { configId: config.id, resourceId: laptop.resourceId, snapshot: first.id, to }));
    // A target whose first folder is a symlink to elsewhere must not be followed either.
    const planted = await makeTempDir('planted');
    const firstSegment = source.split('/')[1];
    await symlink(outside, path.join(planted, firstSegment));
    const throughPlanted = await alpha.cli(restoreArgs(alpha, { configId: config.id, resourceId: laptop.resourceId, snapshot: first.id, to: planted }));

    expect(await readdir(outside), `outside after restores: ${overLink.stderr} ${throughPlanted.stderr}`).toEqual([]);
  });

  test('rejects unknown snapshot, resource and relative target', async () => {
    const { config } = await backedUpTree({ 'x.txt': uniqueContent(5) });
    const to = await makeTempDir('restore-refused');
    const base = { configId: config.id, resourceId: laptop.resourceId, to };

    const unknownSnapshot = await alpha.cli(restoreArgs(alpha, { ...base, snapshot: 999999 }));
    const unknownOn = await alpha.cli(restoreArgs(alpha, { ...base, on: 999999 }));
    const cwd = await makeTempDir('cli-cwd');
    const relative = await alpha.cli(restoreArgs(alpha, { ...base, to: 'restored-here' }), { cwd });

    expect(unknownSnapshot.code).toBe(errorCodes.notFound.exit);
    expect(unknownSnapshot.stderr).toContain('999999');
    expect(unknownOn.code).toBe(errorCodes.notFound.exit);
    expect(unknownOn.stderr).toContain('999999');
    expect(relative.code).toBe(errorCodes.invalidInput.exit);
    expect(relative.stderr).toContain('restored-here');
    expect(await readdir(to)).toEqual([]);
    expect(await readdir(cwd)).toEqual([]);
  });
});

describe('config for every resource', () => {
  test('applies to each agent, also one enrolled later', async () => {
    const source = await makeTempDir('shared-source');
    await writeTree(source, { 'shared.txt': uniqueContent(64) });
    const config = await addBackup(alpha, { name: 'company wide', paths: [source] });
    deferCleanup(() => alpha.cli(['backup', 'delete', String(config.id), '--company', String(alpha.companyId)]));

    await waitForSnapshots(alpha, config.id, laptop.resourceId, 1);
    await waitForSnapshots(alpha, config.id, server.resourceId, 1);
    const late = await enrollAgent(alpha, 'late');
    const [lateSnapshot] = await waitForSnapshots(alpha, config.id, late.resourceId, 1);

    expect(lateSnapshot).toMatchObject({ files: 1, bytes: 64 });
  }, 90_000);
});
