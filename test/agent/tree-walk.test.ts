import { execFileSync } from 'node:child_process';
import { chmod, mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { walkTree, type WalkEvent } from '../../agent/watcher/tree-walk.ts';
import { makeTempDir } from '../helpers/temp.ts';
import { writeTree } from '../helpers/tree.ts';
import { openToOtherUsers, runFixture } from './unprivileged.ts';

async function collect(
  start: string,
  includes: (p: string) => boolean = () => true,
): Promise<WalkEvent[]> {
  const events: WalkEvent[] = [];
  for await (const event of walkTree(start, { includes })) events.push(event);
  return events;
}

function entryPaths(events: WalkEvent[]): string[] {
  return events.flatMap((event) => (event.type === 'entry' ? [event.entry.path] : [])).sort();
}

describe('walkTree', () => {
  it('stores symlink loops as symlinks without following them', async () => {
    const root = await makeTempDir('walk-loops');
    await mkdir(path.join(root, 'a/b'), { recursive: true });
    await writeFile(path.join(root, 'a/b/file.txt'), 'x');
    await symlink('../..', path.join(root, 'a/b/loop'));
    await symlink('self', path.join(root, 'self'));

    const startedAt = Date.now();
    const events = await collect(root);

    expect(Date.now() - startedAt).toBeLessThan(5000);
    const paths = entryPaths(events);
    expect(paths).toEqual([
      root,
      `${root}/a`,
      `${root}/a/b`,
      `${root}/a/b/file.txt`,
      `${root}/a/b/loop`,
      `${root}/self`,
    ]);
    expect(new Set(paths).size).toBe(paths.length);
    const byPath = new Map(
      events.flatMap((event) => (event.type === 'entry' ? [[event.entry.path, event.entry]] : [])),
    );
    expect(byPath.get(`${root}/a/b/loop`)).toMatchObject({ type: 'symlink', target: '../..' });
    expect(byPath.get(`${root}/self`)).toMatchObject({ type: 'symlink', target: 'self' });
    expect(events.filter((event) => event.type !== 'entry')).toEqual([]);
  });

  it('keeps odd and unicode names byte for byte', async () => {
    const root = await makeTempDir('walk-names');
    const names = [
      'price+tax.pdf',
      'a b.txt',
      'a+b.txt',
      '100%.txt',
      '#1 notes.txt',
      'c++/main.cpp',
      'q?.txt',
      'x&y=z.txt',
      'Grüße/naïve café.txt',
      '日本語.txt',
      'emoji-😀.txt',
      'back\\slash.txt',
      'line\nbreak.txt',
    ];
    await writeTree(root, Object.fromEntries(names.map((name) => [name, name])));

    const files = (await collect(root)).flatMap((event) =>
      event.type === 'entry' && event.entry.type === 'file'
        ? [event.entry.path.slice(root.length + 1)]
        : [],
    );

    expect(files.sort()).toEqual([...names].sort());
  });

  it('records empty folders and empty files as entries', async () => {
    const root = await makeTempDir('walk-empty');
    await writeTree(root, {
      'db/base/1/file': 'data',
      'db/pg_tblspc': { dir: true },
      'db/pg_wal/archive_status': { dir: true },
      'db/empty.conf': '',
    });

    const events = await collect(root);
    const byPath = new Map(
      events.flatMap((event) => (event.type === 'entry' ? [[event.entry.path, event.entry]] : [])),
    );

    expect(byPath.get(`${root}/db/pg_tblspc`)?.type).toBe('dir');
    expect(byPath.get(`${root}/db/pg_wal/archive_status`)?.type).toBe('dir');
    expect(byPath.get(`${root}/db/empty.conf`)).toMatchObject({ type: 'file', size: 0 });
  });

  it('records mode bits and mtime', async () => {
    const root = await makeTempDir('walk-mode');
    await writeTree(root, {
      'script.sh': { file: '#!/bin/sh\n', mode: 0o750, mtime: new Date('2020-01-02T03:04:05Z') },
    });

    const events = await collect(`${root}/script.sh`);

    expect(events).toEqual([
      {
        type: 'entry',
        entry: {
          path: `${root}/script.sh`,
          type: 'file',
          size: 10,
          mode: 0o750,
          mtimeMs: Date.parse('2020-01-02T03:04:05Z'),
        },
      },
    ]);
  });

  it('skips excluded folders with everything below', async () => {
    const root = await makeTempDir('walk-exclude');
    await writeTree(root, { 'keep/a.txt': 'a', 'node_modules/pkg/index.js': 'x' });

    const paths = entryPaths(
      await collect(root, (candidate) => !candidate.includes('node_modules')),
    );

    expect(paths).toEqual([root, `${root}/keep`, `${root}/keep/a.txt`]);
  });

  it('reports a missing start path', async () => {
    const root = await makeTempDir('walk-missing');

    expect(await collect(`${root}/gone`)).toEqual([{ type: 'missing', path: `${root}/gone` }]);
  });

  it('reports special files without entries', async () => {
    const root = await makeTempDir('walk-fifo');
    execFileSync('mkfifo', [path.join(root, 'pipe')]);

    const events = await collect(root);

    expect(events).toContainEqual({ type: 'special', path: `${root}/pipe` });
    expect(entryPaths(events)).toEqual([root]);
  });

  it('reports an unreadable folder and keeps walking', async () => {
    const root = await makeTempDir('walk-unreadable');
    await openToOtherUsers(root);
    await writeTree(root, { 'ok/a.txt': 'a', 'locked/b.txt': 'b', 'secret.txt': 's' });
    await chmod(path.join(root, 'locked'), 0o111);
    await chmod(path.join(root, 'secret.txt'), 0o000);

    const events = await runFixture<WalkEvent[]>('walk-tree.mts', [root]);

    const unreadable = events.filter((event) => event.type === 'unreadable');
    expect(unreadable).toHaveLength(1);
    expect(unreadable[0]).toMatchObject({ path: `${root}/locked`, code: 'EACCES' });
    expect(entryPaths(events)).toEqual([
      root,
      `${root}/locked`,
      `${root}/ok`,
      `${root}/ok/a.txt`,
      `${root}/secret.txt`,
    ]);
  });
});
