// Replays of failures reported against other backup and sync tools, caused by what a tree holds:
// symlink loops, names that need escaping, empty folders and empty files.
import { mkdir, rename, rmdir, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { backUpNewTree, backupUntilMatches, restoredPath, restoreSnapshot, totalUploads } from '../helpers/backup.ts';
import { enrollAgent, registerCompany, type Company, type EnrolledAgent } from '../helpers/company.ts';
import { startCoordinator } from '../helpers/coordinator.ts';
import { makeTempDir } from '../helpers/temp.ts';
import { countFiles, expectTreeEquals, uniqueContent, writeTree, type TreeDescription, type TreeSpec } from '../helpers/tree.ts';

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
