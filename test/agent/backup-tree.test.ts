import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildBackupTree, type BackupTree } from '../../agent/transfer/backup-tree.ts';
import { emptyContentHash } from '../../agent/transfer/hash-file.ts';
import { createPathFilter } from '../../agent/watcher/path-filter.ts';
import type { ManifestEntry } from '../../src/protocol/manifest.ts';
import { makeTempDir } from '../helpers/temp.ts';
import { writeTree } from '../helpers/tree.ts';
import { openToOtherUsers, runFixture } from './unprivileged.ts';

const fakeHash = 'f'.repeat(64);

/**
 * Gives every file of a freshly built tree a made-up hash and blob, as a committed base would have.
 */
function asCommitted(tree: BackupTree): Map<string, ManifestEntry> {
  const base = new Map<string, ManifestEntry>();
  for (const [entryPath, entry] of tree.entries) {
    if (entry.type === 'file' && entry.hash === undefined) {
      base.set(entryPath, {
        ...entry,
        hash: fakeHash,
        blob: { hash: fakeHash, key: `packs/ff/${fakeHash}`, offset: 0, length: entry.size },
      });
    } else {
      base.set(entryPath, entry);
    }
  }
  return base;
}

async function fullTree(
  root: string,
  base: Map<string, ManifestEntry> | null = null,
): Promise<BackupTree> {
  const filter = createPathFilter({ includePaths: [root], excludePaths: ['*.tmp'] });
  return buildBackupTree({ filter, base, examine: filter.roots, reuseExaminedHashes: true });
}

describe('buildBackupTree', () => {
  it('walks a full tree and lists files to hash', async () => {
    const root = await makeTempDir('tree-full');
    await writeTree(root, {
      'a.txt': 'a',
      'sub/b.txt': 'b',
      'empty.conf': '',
      'skip.tmp': 't',
      link: { symlink: 'a.txt' },
    });

    const tree = await fullTree(root);

    expect([...tree.entries.keys()].sort()).toEqual(
      [
        root,
        `${root}/a.txt`,
        `${root}/empty.conf`,
        `${root}/link`,
        `${root}/sub`,
        `${root}/sub/b.txt`,
      ].sort(),
    );
    expect(tree.toHash.sort()).toEqual([`${root}/a.txt`, `${root}/sub/b.txt`]);
    expect(tree.entries.get(`${root}/empty.conf`)?.hash).toBe(emptyContentHash);
    expect(tree.entries.get(`${root}/link`)).toMatchObject({ type: 'symlink', target: 'a.txt' });
    expect(tree.warnings).toEqual([]);
  });

  it('reuses base hashes of unchanged files on a full run', async () => {
    const root = await makeTempDir('tree-reuse');
    await writeTree(root, { 'a.txt': 'a', 'b.txt': 'b' });
    const base = asCommitted(await fullTree(root));

    await writeFile(path.join(root, 'b.txt'), 'changed');
    const tree = await fullTree(root, base);

    expect(tree.entries.get(`${root}/a.txt`)?.hash).toBe(fakeHash);
    expect(tree.toHash).toEqual([`${root}/b.txt`]);
  });

  it('applies changed paths to the base on an incremental run', async () => {
    const root = await makeTempDir('tree-incremental');
    await writeTree(root, {
      'keep.txt': 'k',
      'edit.txt': 'e',
      'gone/x.txt': 'x',
      'dir/old.txt': 'o',
    });
    const base = asCommitted(await fullTree(root));

    await writeFile(path.join(root, 'edit.txt'), 'edited');
    await rm(path.join(root, 'gone'), { recursive: true });
    await rm(path.join(root, 'dir/old.txt'));
    await mkdir(path.join(root, 'dir/new/deeper'), { recursive: true });
    await writeFile(path.join(root, 'dir/new/deeper/n.txt'), 'n');
    const filter = createPathFilter({ includePaths: [root], excludePaths: [] });
    const tree = await buildBackupTree({
      filter,
      base,
      examine: [
        `${root}/edit.txt`,
        `${root}/gone`,
        `${root}/dir/new/deeper/n.txt`,
        `${root}/dir/old.txt`,
      ],
      reuseExaminedHashes: false,
    });

    expect([...tree.entries.keys()].sort()).toEqual(
      [
        root,
        `${root}/dir`,
        `${root}/dir/new`,
        `${root}/dir/new/deeper`,
        `${root}/dir/new/deeper/n.txt`,
        `${root}/edit.txt`,
        `${root}/keep.txt`,
      ].sort(),
    );
    expect(tree.entries.get(`${root}/keep.txt`)?.hash).toBe(fakeHash);
    expect(tree.toHash.sort()).toEqual([`${root}/dir/new/deeper/n.txt`, `${root}/edit.txt`]);
  });

  it('keeps the base entries of a missing include root', async () => {
    const parent = await makeTempDir('tree-root-missing');
    const root = path.join(parent, 'Documents');
    await writeTree(root, { 'a.txt': 'a', 'sub/b.txt': 'b' });
    const base = asCommitted(await fullTree(root));

    await rm(root, { recursive: true });
    const full = await fullTree(root, base);
    const incremental = await buildBackupTree({
      filter: createPathFilter({ includePaths: [root], excludePaths: [] }),
      base,
      examine: [`${root}/a.txt`, root],
      reuseExaminedHashes: false,
    });

    for (const tree of [full, incremental]) {
      expect(tree.entries).toEqual(base);
      expect(tree.warnings).toHaveLength(1);
      expect(tree.warnings[0]).toContain(`Include path ${root} is missing`);
      expect(tree.retry).toEqual([{ path: root, kind: 'rescan' }]);
    }
  });

  it('drops base entries outside the config paths', async () => {
    const root = await makeTempDir('tree-outside');
    await writeTree(root, { 'in/a.txt': 'a', 'out/b.txt': 'b' });
    const base = asCommitted(await fullTree(root));

    const filter = createPathFilter({ includePaths: [`${root}/in`], excludePaths: [] });
    const tree = await buildBackupTree({ filter, base, examine: [], reuseExaminedHashes: false });

    expect([...tree.entries.keys()].sort()).toEqual([`${root}/in`, `${root}/in/a.txt`]);
  });

  it('walks an include root that the base lacks', async () => {
    const root = await makeTempDir('tree-new-root');
    await writeTree(root, { 'old/a.txt': 'a', 'added/b.txt': 'b' });
    const oldFilter = createPathFilter({ includePaths: [`${root}/old`], excludePaths: [] });
    const base = asCommitted(
      await buildBackupTree({
        filter: oldFilter,
        base: null,
        examine: oldFilter.roots,
        reuseExaminedHashes: true,
      }),
    );

    const filter = createPathFilter({
      includePaths: [`${root}/old`, `${root}/added`],
      excludePaths: [],
    });
    const tree = await buildBackupTree({ filter, base, examine: [], reuseExaminedHashes: false });

    expect(tree.entries.has(`${root}/added/b.txt`)).toBe(true);
    expect(tree.toHash).toEqual([`${root}/added/b.txt`]);
  });

  it('keeps base entries below an unreadable folder with a warning', async () => {
    const root = await makeTempDir('tree-unreadable');
    await openToOtherUsers(root);
    await writeTree(root, { 'ok/a.txt': 'a', 'locked/b.txt': 'b', 'locked/inner/c.txt': 'c' });
    const base = asCommitted(await fullTree(root));
    await writeFile(path.join(root, 'baseline.json'), JSON.stringify([...base]));
    await chmod(path.join(root, 'baseline.json'), 0o644);
    await chmod(path.join(root, 'locked'), 0o111);

    const tree = await runFixture<
      Omit<BackupTree, 'entries'> & { entries: Array<[string, ManifestEntry]> }
    >('build-tree.mts', [root, path.join(root, 'baseline.json')]);
    const entries = new Map(tree.entries);

    expect(entries.get(`${root}/locked/b.txt`)).toEqual(base.get(`${root}/locked/b.txt`));
    expect(entries.get(`${root}/locked/inner/c.txt`)).toEqual(
      base.get(`${root}/locked/inner/c.txt`),
    );
    expect(tree.warnings).toHaveLength(1);
    expect(tree.warnings[0]).toContain(`${root}/locked`);
    expect(tree.retry).toContainEqual({ path: `${root}/locked`, kind: 'change' });
  });
});
