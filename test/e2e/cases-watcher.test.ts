// Replays of failures reported against other backup and sync tools, where the watcher's events
// drift from what is on disk: atomic saves, folder renames, folders deleted and made again.
import { appendFile, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import {
  backUpNewTree,
  backupUntilMatches,
  listSnapshots,
  restoredPath,
  restoreSnapshot,
  runBackup,
  totalUploads,
} from '../helpers/backup.ts';
import { enrollAgent, registerCompany, type Company, type EnrolledAgent } from '../helpers/company.ts';
import { startCoordinator } from '../helpers/coordinator.ts';
import { describeTree, expectTreeEquals, uniqueContent, writeTree, type TreeSpec } from '../helpers/tree.ts';
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

describe('atomic save', () => {
  test('rename over a file is a change of that file', async () => {
    const { source, config } = await backedUpTree({ 'notes.txt': 'version 0\n' });
    const notes = path.join(source, 'notes.txt');
    const temp = path.join(source, '.notes.txt.tmp');

    // Five saves one second apart, as editors that write a temp file and rename it do.
    for (let version = 1; version <= 5; version++) {
      await writeFile(temp, `version ${version} ${uniqueContent(8).toString('hex')}\n`);
      await rename(temp, notes);
      await sleep(1000);
    }
    await appendFile(notes, 'appended in place\n');
    const saves = await backupUntil(config.id, source);

    // Only the final content reaches the store.
    expect(totalUploads(saves).filesUploaded).toBe(1);

    await writeFile(notes, 'edited after the saves\n');
    await backupUntil(config.id, source);

    for (const snapshot of await listSnapshots(alpha, config.id, laptop.resourceId)) {
      const { to } = await restoreSnapshot(alpha, { configId: config.id, resourceId: laptop.resourceId, snapshot: snapshot.id });
      const restored = await describeTree(restoredPath(to, source));
      expect(restored.has('notes.txt'), `snapshot ${snapshot.id} holds notes.txt`).toBe(true);
      expect(restored.has('.notes.txt.tmp'), `snapshot ${snapshot.id} holds the temp file`).toBe(false);
    }
  }, 90_000);
});

describe('folder rename', () => {
  test('renamed folder appears once under its new name', async () => {
    const { source, config } = await backedUpTree({
      'projects/alpha/a.txt': uniqueContent(10),
      'projects/alpha/b.txt': uniqueContent(11),
      'projects/alpha/sub/c.txt': uniqueContent(12),
    });
    const alphaDir = path.join(source, 'projects', 'alpha');
    const betaDir = path.join(source, 'projects', 'beta');

    await rename(alphaDir, betaDir);
    const toBeta = await backupUntil(config.id, source);
    await rename(betaDir, alphaDir);
    const backToAlpha = await backupUntil(config.id, source);

    expect(totalUploads(toBeta).bytesUploaded).toBe(0);
    expect(totalUploads(backToAlpha).bytesUploaded).toBe(0);
  }, 90_000);

  test('rename and back within a second', async () => {
    const { source, config } = await backedUpTree({
      'projects/alpha/a.txt': uniqueContent(10),
      'projects/alpha/sub/c.txt': uniqueContent(12),
    });
    const alphaDir = path.join(source, 'projects', 'alpha');
    const betaDir = path.join(source, 'projects', 'beta');

    await rename(alphaDir, betaDir);
    await sleep(300);
    await rename(betaDir, alphaDir);
    await backupUntil(config.id, source);

    // The watcher still follows the folder that moved away and back.
    await writeFile(path.join(alphaDir, 'sub', 'd.txt'), uniqueContent(13));
    const runs = await backupUntil(config.id, source);
    expect(totalUploads(runs)).toEqual({ filesUploaded: 1, bytesUploaded: 13 });
  }, 90_000);
});

describe('folder deleted and made again', () => {
  test('recreated folder holds only its new files', async () => {
    const { source, config } = await backedUpTree({ 'inbox/one.txt': uniqueContent(10) });
    const inbox = path.join(source, 'inbox');

    await rm(inbox, { recursive: true, force: true });
    await mkdir(path.join(inbox, 'sub'), { recursive: true });
    await writeFile(path.join(inbox, 'two.txt'), 'first draft\n');
    await writeFile(path.join(inbox, 'two.txt'), `final ${uniqueContent(8).toString('hex')}\n`);
    await backupUntil(config.id, source);

    // The new folder is watched: a file added later is found.
    await writeFile(path.join(inbox, 'sub', 'three.txt'), uniqueContent(30));
    const runs = await backupUntil(config.id, source);
    expect(totalUploads(runs)).toEqual({ filesUploaded: 1, bytesUploaded: 30 });
  }, 90_000);

  test('deleted root is not a deletion of its files', async () => {
    const { source, tree, config } = await backedUpTree({ 'a.txt': uniqueContent(10), 'dir/b.txt': uniqueContent(20) });

    await rm(source, { recursive: true });
    const right = await runBackup(alpha, config.id, laptop.resourceId);
    // NOTE: by now the watcher has had time to report every unlink of the deleted tree.
    await sleep(1500);
    const later = await runBackup(alpha, config.id, laptop.resourceId);

    for (const run of [right, later]) {
      expect(run.status).toBe('completed_with_warnings');
      expect(run.warnings?.some((warning) => warning.includes(source)), JSON.stringify(run.warnings)).toBe(true);
      expect(run.files).toBe(2);
      const { to } = await restoreSnapshot(alpha, { configId: config.id, resourceId: laptop.resourceId, snapshot: run.snapshotId });
      await expectTreeEquals(restoredPath(to, source), tree);
    }

    // Once the root is back, its new contents are picked up.
    await writeTree(source, { 'a.txt': uniqueContent(11), 'c.txt': uniqueContent(30) });
    await backupUntil(config.id, source);
  }, 90_000);
});
