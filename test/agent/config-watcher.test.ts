import { appendFile, mkdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigWatcher } from '../../agent/watcher/config-watcher.ts';
import type { PathChange } from '../../agent/watcher/path-change.ts';
import { createPathFilter } from '../../agent/watcher/path-filter.ts';
import { makeTempDir } from '../helpers/temp.ts';

const watchers: ConfigWatcher[] = [];
afterEach(async () => {
  for (const watcher of watchers.splice(0)) await watcher.close();
});

async function startWatcher(
  root: string,
  excludePaths: string[] = [],
): Promise<{ changes: PathChange[] }> {
  const watcher = new ConfigWatcher(createPathFilter({ includePaths: [root], excludePaths }), {
    rootCheckMs: 200,
  });
  watchers.push(watcher);
  const seen = { changes: [] as PathChange[] };
  watcher.on('changes', (batch) => seen.changes.push(...batch));
  await watcher.start();
  return seen;
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) {
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('ConfigWatcher', () => {
  it('reports atomic saves as changes, never as a delete', async () => {
    const root = await makeTempDir('watch-atomic');
    const notes = path.join(root, 'notes.txt');
    await writeFile(notes, 'v0');
    const seen = await startWatcher(root, ['*.tmp']);

    for (let version = 1; version <= 3; version += 1) {
      const temporary = path.join(root, '.notes.txt.tmp');
      await writeFile(temporary, `v${version}`);
      await rename(temporary, notes);
      await pause(300);
    }
    await appendFile(notes, ' appended');
    await waitFor(
      () => seen.changes.filter((change) => change.path === notes).length >= 4,
      'four changes of notes.txt',
    );

    expect(
      seen.changes.filter((change) => change.path === notes && change.kind === 'unlink'),
    ).toEqual([]);
    expect(seen.changes.filter((change) => change.path.endsWith('.tmp'))).toEqual([]);
  });

  it('reports adds and deletes below the root', async () => {
    const root = await makeTempDir('watch-adds');
    await mkdir(path.join(root, 'inbox'));
    await writeFile(path.join(root, 'inbox/one.txt'), '1');
    const seen = await startWatcher(root);

    await rm(path.join(root, 'inbox'), { recursive: true });
    await mkdir(path.join(root, 'inbox/sub'), { recursive: true });
    await pause(300);
    await writeFile(path.join(root, 'inbox/two.txt'), '2');
    await waitFor(
      () => seen.changes.some((change) => change.path === path.join(root, 'inbox/two.txt')),
      'inbox/two.txt',
    );
    await writeFile(path.join(root, 'inbox/two.txt'), '2 again');
    await waitFor(
      () =>
        seen.changes.filter((change) => change.path === path.join(root, 'inbox/two.txt')).length >=
        2,
      'a second event of inbox/two.txt',
    );

    expect(seen.changes.map((change) => change.path)).toContain(path.join(root, 'inbox/one.txt'));
  });

  it('vanished root rescans and rewatches', async () => {
    const parent = await makeTempDir('watch-root');
    const root = path.join(parent, 'Documents');
    await mkdir(path.join(root, 'sub'), { recursive: true });
    await writeFile(path.join(root, 'a.txt'), 'a');
    await writeFile(path.join(root, 'sub/b.txt'), 'b');
    const seen = await startWatcher(root);

    await rm(root, { recursive: true });
    await waitFor(
      () => seen.changes.some((change) => change.kind === 'rescan'),
      'a rescan after the root vanished',
    );
    await pause(500);

    expect(seen.changes).toEqual([{ path: root, kind: 'rescan' }]);

    await mkdir(root);
    await waitFor(
      () => seen.changes.filter((change) => change.kind === 'rescan').length >= 2,
      'a rescan after the root came back',
    );
    await pause(300);
    await writeFile(path.join(root, 'c.txt'), 'c');
    await waitFor(
      () => seen.changes.some((change) => change.path === path.join(root, 'c.txt')),
      'an event of c.txt',
    );
  });

  it('starts on a missing root and picks it up later', async () => {
    const parent = await makeTempDir('watch-late');
    const root = path.join(parent, 'later');
    const seen = await startWatcher(root);

    await mkdir(root);
    await waitFor(
      () => seen.changes.some((change) => change.kind === 'rescan'),
      'a rescan of the new root',
    );
    await pause(300);
    await writeFile(path.join(root, 'x.txt'), 'x');

    await waitFor(
      () => seen.changes.some((change) => change.path === path.join(root, 'x.txt')),
      'an event of x.txt',
    );
  });

  it('does not follow symlink loops', async () => {
    const root = await makeTempDir('watch-loop');
    await mkdir(path.join(root, 'a/b'), { recursive: true });
    await symlink('../..', path.join(root, 'a/b/loop'));
    await symlink('self', path.join(root, 'self'));
    const seen = await startWatcher(root);

    await writeFile(path.join(root, 'a/b/file.txt'), 'x');
    await waitFor(
      () => seen.changes.some((change) => change.path === path.join(root, 'a/b/file.txt')),
      'an event of file.txt',
    );

    expect(seen.changes.some((change) => change.path.includes('/loop/'))).toBe(false);
  });
});
