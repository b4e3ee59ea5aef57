import { chmod, rename, symlink, unlink, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { makeTempDir } from './temp.ts';
import { countFiles, describeTree, diffTrees, subtree, writeTree } from './tree.ts';

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
    const one = await makeTempDir('tree-one');
    const two = await makeTempDir('tree-two');
    await writeTree(one, spec);
    await writeTree(two, spec);

    expect(diffTrees(await describeTree(one), await describeTree(two))).toEqual([]);
  });

  test('every kind of difference is reported', async () => {
    const one = await makeTempDir('tree-one');
    const two = await makeTempDir('tree-two');
    await writeTree(one, spec);
    await writeTree(two, spec);
    const expected = await describeTree(one);

    await writeFile(path.join(two, 'a b.txt'), 'hellO');
    await utimes(path.join(two, 'a b.txt'), new Date('2024-05-01T12:00:00Z'), new Date('2024-05-01T12:00:00Z'));
    await chmod(path.join(two, 'script.sh'), 0o644);
    await unlink(path.join(two, 'link'));
    await symlink('empty.txt', path.join(two, 'link'));
    await rename(path.join(two, 'dir/empty'), path.join(two, 'dir/other'));
    await utimes(path.join(two, 'empty.txt'), new Date('2024-05-01T12:00:01Z'), new Date('2024-05-01T12:00:01Z'));
    const differences = diffTrees(expected, await describeTree(two));

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
});
