import { appendFile, chmod, mkdir, rename, rm, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { LocalEntry } from '../../agent/watcher/local-entry.ts';
import { createPathFilter } from '../../agent/watcher/path-filter.ts';
import { reconcileTree } from '../../agent/watcher/reconcile.ts';
import { walkTree } from '../../agent/watcher/tree-walk.ts';
import { makeTempDir } from '../helpers/temp.ts';
import { writeTree } from '../helpers/tree.ts';

async function snapshotOf(root: string): Promise<Map<string, LocalEntry>> {
  const entries = new Map<string, LocalEntry>();
  for await (const event of walkTree(root, { includes: () => true })) {
    if (event.type === 'entry') entries.set(event.entry.path, event.entry);
  }
  return entries;
}

describe('reconcileTree', () => {
  it('reports nothing for an unchanged tree', async () => {
    const root = await makeTempDir('reconcile-same');
    await writeTree(root, {
      'a.txt': 'a',
      'sub/b.txt': 'b',
      link: { symlink: 'a.txt' },
      empty: { dir: true },
    });
    const snapshot = await snapshotOf(root);

    const result = await reconcileTree(
      createPathFilter({ includePaths: [root], excludePaths: [] }),
      snapshot,
    );

    expect(result).toEqual({ changes: [], missingRoots: [], unreadable: [] });
  });

  it('detects added, changed and deleted entries', async () => {
    const root = await makeTempDir('reconcile-diff');
    await writeTree(root, {
      'same.txt': 'same',
      'grow.txt': 'grow',
      'touch.txt': 'touch',
      'mode.sh': 'mode',
      'gone.txt': 'gone',
      'old/x.txt': 'x',
      'old/deep/y.txt': 'y',
      link: { symlink: 'same.txt' },
    });
    const snapshot = await snapshotOf(root);

    await appendFile(path.join(root, 'grow.txt'), '!');
    await utimes(path.join(root, 'touch.txt'), new Date(), new Date('2030-01-01T00:00:00Z'));
    await chmod(path.join(root, 'mode.sh'), 0o755);
    await rm(path.join(root, 'gone.txt'));
    await rm(path.join(root, 'old'), { recursive: true });
    await rm(path.join(root, 'link'));
    await writeFile(path.join(root, 'link'), 'now a file');
    await writeFile(path.join(root, 'new.txt'), 'new');
    await mkdir(path.join(root, 'fresh/inner'), { recursive: true });
    await writeFile(path.join(root, 'fresh/inner/z.txt'), 'z');

    const result = await reconcileTree(
      createPathFilter({ includePaths: [root], excludePaths: [] }),
      snapshot,
    );
    const changes = [...result.changes].sort((a, b) => a.path.localeCompare(b.path));

    expect(changes).toEqual([
      { path: `${root}/fresh`, kind: 'addDir' },
      { path: `${root}/gone.txt`, kind: 'unlink' },
      { path: `${root}/grow.txt`, kind: 'change' },
      { path: `${root}/link`, kind: 'change' },
      { path: `${root}/mode.sh`, kind: 'change' },
      { path: `${root}/new.txt`, kind: 'add' },
      { path: `${root}/old`, kind: 'unlinkDir' },
      { path: `${root}/touch.txt`, kind: 'change' },
    ]);
  });

  it('reports a renamed folder as one removal and one addition', async () => {
    const root = await makeTempDir('reconcile-rename');
    await writeTree(root, {
      'projects/alpha/a.txt': 'a',
      'projects/alpha/b.txt': 'b',
      'projects/alpha/sub/c.txt': 'c',
    });
    const snapshot = await snapshotOf(root);

    await rename(path.join(root, 'projects/alpha'), path.join(root, 'projects/beta'));
    const result = await reconcileTree(
      createPathFilter({ includePaths: [root], excludePaths: [] }),
      snapshot,
    );

    expect(result.changes).toContainEqual({ path: `${root}/projects/beta`, kind: 'addDir' });
    expect(result.changes).toContainEqual({ path: `${root}/projects/alpha`, kind: 'unlinkDir' });
    expect(result.changes.filter((change) => change.kind !== 'change')).toHaveLength(2);
  });

  it('treats a missing root as no deletion', async () => {
    const parent = await makeTempDir('reconcile-missing');
    const root = path.join(parent, 'Documents');
    await writeTree(root, { 'a.txt': 'a', 'sub/b.txt': 'b' });
    const snapshot = await snapshotOf(root);

    await rm(root, { recursive: true });
    const result = await reconcileTree(
      createPathFilter({ includePaths: [root], excludePaths: [] }),
      snapshot,
    );

    expect(result.changes).toEqual([]);
    expect(result.missingRoots).toEqual([root]);
  });

  it('ignores entries that the filter excludes now', async () => {
    const root = await makeTempDir('reconcile-excluded');
    await writeTree(root, { 'a.txt': 'a', 'cache/big.bin': 'b' });
    const snapshot = await snapshotOf(root);

    await rm(path.join(root, 'cache'), { recursive: true });
    await writeFile(path.join(root, 'scratch.tmp'), 't');
    const filter = createPathFilter({ includePaths: [root], excludePaths: ['cache', '*.tmp'] });
    const result = await reconcileTree(filter, snapshot);

    expect(result.changes).toEqual([]);
  });
});
