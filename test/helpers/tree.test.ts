import { chmod, mkdir, rename, symlink, unlink, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { makeTempDir } from './temp.ts';
import { countFiles, describeTree, diffTrees, strayEntries, subtree, writeTree } from './tree.ts';

// The end-to-end tests trust this comparison to catch a wrong restore, so it is tested itself.
describe('tree comparison', () => {
  const spec = {
    'a b.txt': 'hello',
    'empty.txt': '',
    'dir/nested/x.bin': Buffer.from([0, 1, 2, 255]),
    'dir/empty': { dir: true as const },
    'script.sh': { file: '#!/bin/sh\n', mode: 0o755 },
    link: { symlink: 'a b.txt' },
  };

  test('identical trees have no differences', async () => {
    const first = await makeTempDir('tree-first');
    const second = await makeTempDir('tree-second');
    await writeTree(first, spec);
    await writeTree(second, spec);

    expect(diffTrees(await describeTree(first), await describeTree(second))).toEqual([]);
  });

  test('every kind of difference is reported', async () => {
    const first = await makeTempDir('tree-first');
    const second = await makeTempDir('tree-second');
    await writeTree(first, spec);
    await writeTree(second, spec);
    const expected = await describeTree(first);

    await writeFile(path.join(second, 'a b.txt'), 'hellO');
    await utimes(path.join(second, 'a b.txt'), new Date('2024-05-01T12:00:00Z'), new Date('2024-05-01T12:00:00Z'));
    await chmod(path.join(second, 'script.sh'), 0o644);
    await unlink(path.join(second, 'link'));
    await symlink('empty.txt', path.join(second, 'link'));
    await rename(path.join(second, 'dir/empty'), path.join(second, 'dir/other'));
    await utimes(path.join(second, 'empty.txt'), new Date('2024-05-01T12:00:01Z'), new Date('2024-05-01T12:00:01Z'));
    const differences = diffTrees(expected, await describeTree(second));

    expect(differences.some((line) => line.startsWith('"a b.txt": sha256 is'))).toBe(true);
    expect(differences).toContain('"script.sh": mode is 644, expected 755');
    expect(differences).toContain('"link": target is "empty.txt", expected "a b.txt"');
    expect(differences).toContain('missing dir "dir/empty"');
    expect(differences).toContain('unexpected dir "dir/other"');
    expect(differences.some((line) => line.startsWith('"empty.txt": mtime'))).toBe(true);
  });

  test('mtimes are set on folders after their children', async () => {
    const root = await makeTempDir('tree');
    await writeTree(root, spec);
    const tree = await describeTree(root);

    expect(tree.get('.')!.mtime).toBe(Date.parse('2024-05-01T12:00:00Z') / 1000);
    expect(tree.get('dir/nested')!.mtime).toBe(Date.parse('2024-05-01T12:00:00Z') / 1000);
    expect(tree.get('link')!.mtime).toBe(Date.parse('2024-05-01T12:00:00Z') / 1000);
  });

  test('file counts and subtrees', async () => {
    const root = await makeTempDir('tree');
    await writeTree(root, spec);
    const tree = await describeTree(root);

    expect(countFiles(tree)).toEqual({ files: 4, bytes: 5 + 0 + 4 + 10 });
    expect([...subtree(tree, 'dir').keys()]).toEqual(['.', 'empty', 'nested', 'nested/x.bin']);
  });

  test('folder mtimes can be left out', async () => {
    const first = await makeTempDir('tree-first');
    const second = await makeTempDir('tree-second');
    await writeTree(first, spec);
    await writeTree(second, spec);
    await utimes(path.join(second, 'dir'), new Date('2020-01-01T00:00:00Z'), new Date('2020-01-01T00:00:00Z'));
    await utimes(path.join(second, 'empty.txt'), new Date('2020-01-01T00:00:00Z'), new Date('2020-01-01T00:00:00Z'));
    const expected = await describeTree(first);
    const actual = await describeTree(second);

    expect(diffTrees(expected, actual, { folderMtimes: false })).toEqual(['"empty.txt": mtime is 1577836800, expected 1714564800']);
    expect(diffTrees(expected, actual)).toHaveLength(2);
  });

  test('stray entries beside a restored path are listed', async () => {
    const to = await makeTempDir('restore-target');
    const original = '/data/projects';
    await mkdir(path.join(to, 'data', 'projects', 'inner'), { recursive: true });
    await writeFile(path.join(to, 'data', 'projects', 'inner', 'a.txt'), 'a');

    expect(await strayEntries(to, original)).toEqual([]);

    await writeFile(path.join(to, 'data', 'beside.txt'), 'b');
    await mkdir(path.join(to, 'elsewhere'));

    expect(await strayEntries(to, original)).toEqual(['file data/beside.txt', 'dir elsewhere']);
  });
});
