import { describe, expect, it } from 'vitest';
import { createPathFilter } from '../../agent/watcher/path-filter.ts';

describe('createPathFilter', () => {
  const filter = createPathFilter({
    includePaths: ['/home/alex/Documents', '/home/alex/Documents/sub', '/srv/data/'],
    excludePaths: ['*.tmp', 'node_modules', '/home/alex/Documents/private', '/srv/data/**/cache'],
    alwaysExcluded: ['/srv/data/agent-state'],
  });

  it('drops include paths inside others and normalizes them', () => {
    expect(filter.roots).toEqual(['/home/alex/Documents', '/srv/data']);
  });

  it('finds the root of a path', () => {
    expect(filter.rootOf('/home/alex/Documents/a.txt')).toBe('/home/alex/Documents');
    expect(filter.rootOf('/home/alex/Documents')).toBe('/home/alex/Documents');
    expect(filter.rootOf('/home/alex/Documents2/a.txt')).toBeNull();
    expect(filter.rootOf('/home/alex')).toBeNull();
  });

  it.each([
    ['/home/alex/Documents', true],
    ['/home/alex/Documents/report.pdf', true],
    ['/home/alex/Documents/a/b/c.txt', true],
    ['/home/alex/Documents/draft.tmp', false],
    ['/home/alex/Documents/.notes.txt.tmp', false],
    ['/home/alex/Documents/dir.tmp/inside.txt', false],
    ['/home/alex/Documents/web/node_modules', false],
    ['/home/alex/Documents/web/node_modules/pkg/index.js', false],
    ['/home/alex/Documents/web/node_modules_backup/index.js', true],
    ['/home/alex/Documents/private', false],
    ['/home/alex/Documents/private/key.pem', false],
    ['/home/alex/Documents/private-notes.txt', true],
    ['/srv/data/x/cache', false],
    ['/srv/data/x/y/cache/file.bin', false],
    ['/srv/data/x/cached.bin', true],
    ['/srv/data/agent-state/state.json', false],
    ['/srv/other/file.txt', false],
  ])('includes(%s) is %s', (candidate, expected) => {
    expect(filter.includes(candidate)).toBe(expected);
  });

  it('matches name patterns only below the include root', () => {
    const underTmp = createPathFilter({ includePaths: ['/var/tmp.d/data'], excludePaths: ['*.d'] });

    expect(underTmp.includes('/var/tmp.d/data/file.txt')).toBe(true);
    expect(underTmp.includes('/var/tmp.d/data/conf.d/file.txt')).toBe(false);
  });

  it('keeps names with glob characters literal', () => {
    const odd = createPathFilter({ includePaths: ['/data'], excludePaths: [] });

    for (const name of [
      'price+tax.pdf',
      'q?.txt',
      '100%.txt',
      '#1 notes.txt',
      'c++',
      'x&y=z.txt',
      '[a].txt',
    ]) {
      expect(odd.includes(`/data/${name}`)).toBe(true);
    }
  });
});
