import { mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SafeTargetResolver } from '../../agent/transfer/safe-target.ts';
import { makeTempDir } from '../helpers/temp.ts';

describe('SafeTargetResolver', () => {
  it('maps absolute snapshot paths under the restore folder', async () => {
    const root = await makeTempDir('safe-map');
    const resolver = new SafeTargetResolver(root);

    expect(await resolver.resolve('/data/a.txt')).toEqual({
      ok: true,
      path: path.join(root, 'data/a.txt'),
    });
    expect(await resolver.resolve('/data/sub dir/100%.txt')).toEqual({
      ok: true,
      path: path.join(root, 'data/sub dir/100%.txt'),
    });
    expect(await resolver.resolve('/')).toEqual({ ok: true, path: root });
  });

  it.each(['/data/../../etc/passwd', '/../x', '/data/..', '/a/\0b'])(
    'rejects %j',
    async (snapshotPath) => {
      const root = await makeTempDir('safe-dots');
      const resolver = new SafeTargetResolver(root);

      const result = await resolver.resolve(snapshotPath);

      expect(result.ok).toBe(false);
    },
  );

  it('rejects paths below a symlinked parent', async () => {
    const root = await makeTempDir('safe-link');
    const outside = await makeTempDir('safe-outside');
    await mkdir(path.join(root, 'data'));
    await symlink(outside, path.join(root, 'data/escape'));

    const resolver = new SafeTargetResolver(root);
    const below = await resolver.resolve('/data/escape/a.txt');
    const deeper = await resolver.resolve('/data/escape/x/y.txt');

    expect(below.ok).toBe(false);
    expect(below.ok ? '' : below.reason).toContain('symlink');
    expect(deeper.ok).toBe(false);
  });

  it('rejects paths below a file', async () => {
    const root = await makeTempDir('safe-file');
    await writeFile(path.join(root, 'data'), 'x');

    const result = await new SafeTargetResolver(root).resolve('/data/a.txt');

    expect(result.ok).toBe(false);
  });

  it('accepts a restore folder that is itself a symlink', async () => {
    const real = await makeTempDir('safe-real');
    const holder = await makeTempDir('safe-holder');
    await symlink(real, path.join(holder, 'restore'));

    const result = await new SafeTargetResolver(path.join(holder, 'restore')).resolve(
      '/data/a.txt',
    );

    expect(result).toEqual({ ok: true, path: path.join(holder, 'restore/data/a.txt') });
  });
});
