import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { appendFile, chmod, lstat, mkdir, readdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { beforeAll, describe, expect, test } from 'vitest';
import { enrollAgent, registerCompany, type Company, type EnrolledAgent } from '../helpers/company.ts';
import { startCoordinator } from '../helpers/coordinator.ts';
import { makeTempDir } from '../helpers/temp.ts';
import { describeTree, diffTrees, uniqueContent, writeTree } from '../helpers/tree.ts';
import { sleep, waitFor } from '../helpers/wait.ts';

let company: Company;
let source: EnrolledAgent;
let first: EnrolledAgent;
let second: EnrolledAgent;

beforeAll(async () => {
  const coordinator = await startCoordinator();
  company = await registerCompany(coordinator, 'Syncers');
  source = await enrollAgent(company, 'source');
  first = await enrollAgent(company, 'first');
  second = await enrollAgent(company, 'second');
});

interface SyncSetup {
  configId: number;
  sourceDir: string;
  destinations: string[];
}

/** Creates a sync config from a fresh source folder onto fresh folders of the given destinations. */
async function addSync(name: string, destinations: EnrolledAgent[], spec: Parameters<typeof writeTree>[1] = {}): Promise<SyncSetup> {
  const sourceDir = await makeTempDir(`sync-source-${name}`);
  await writeTree(sourceDir, spec);
  const destinationDirs: string[] = [];
  const args = ['sync', 'add', '--company', String(company.companyId), '--resource', String(source.resourceId), '--name', name, '--path', sourceDir];
  for (const destination of destinations) {
    const dir = await makeTempDir(`sync-dest-${name}`);
    destinationDirs.push(dir);
    args.push('--dest', `${destination.resourceId}=${dir}`);
  }
  const config = await company.cliJson<{ id: number }>([...args, '--json']);
  return { configId: config.id, sourceDir, destinations: destinationDirs };
}

/** Waits until `dir` holds the same entries as `sourceDir` (content, type, mode, mtime). */
async function waitForMirror(sourceDir: string, dir: string, timeoutMs = 20_000): Promise<void> {
  let differences: string[] = [];
  await waitFor(
    async () => {
      differences = diffTrees(await describeTree(sourceDir), await describeTree(dir), { folderMtimes: false });
      return differences.length === 0;
    },
    { what: `${dir} to mirror ${sourceDir}`, timeoutMs, intervalMs: 100, context: () => differences.slice(0, 10).join('\n') },
  );
}

async function sha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(file), hash);
  return hash.digest('hex');
}

interface SyncStatus {
  destinations: { resourceId: number; inSync: boolean; pending: number; lastError: string | null; conflicts: { path: string; conflictPath: string }[] }[];
}

async function syncStatus(configId: number): Promise<SyncStatus> {
  return company.cliJson<SyncStatus>(['sync', 'status', String(configId), '--company', String(company.companyId), '--json']);
}

describe('sync to two destinations', () => {
  test('initial push and later edits converge', async () => {
    const setup = await addSync('mirror', [first, second], {
      'a b.txt': 'hello',
      'docs/report #1.md': uniqueContent(5000),
      'docs/empty-dir': { dir: true },
      'empty.conf': '',
      'link': { symlink: 'a b.txt' },
    });
    for (const dir of setup.destinations) await waitForMirror(setup.sourceDir, dir);

    await writeFile(path.join(setup.sourceDir, 'a b.txt'), 'hello again');
    await writeFile(path.join(setup.sourceDir, 'new+file.txt'), uniqueContent(300));
    await rm(path.join(setup.sourceDir, 'empty.conf'));
    await rename(path.join(setup.sourceDir, 'docs'), path.join(setup.sourceDir, 'papers'));
    await mkdir(path.join(setup.sourceDir, 'c/d'), { recursive: true });
    await writeFile(path.join(setup.sourceDir, 'c/d/deep.txt'), 'deep');
    for (const dir of setup.destinations) await waitForMirror(setup.sourceDir, dir);

    await rm(path.join(setup.sourceDir, 'c'), { recursive: true });
    for (const dir of setup.destinations) await waitForMirror(setup.sourceDir, dir);

    const status = await waitFor(async () => {
      const current = await syncStatus(setup.configId);
      return current.destinations.every((d) => d.inSync) ? current : undefined;
    }, { what: 'sync status to report every destination in sync' });
    expect(status.destinations).toHaveLength(2);
    expect(status.destinations.map((d) => d.pending)).toEqual([0, 0]);
  });

  test('mode change alone reaches the destination', async () => {
    const setup = await addSync('chmod', [first], { 'script.sh': { file: 'echo hi', mode: 0o644 } });
    const [dest] = setup.destinations;
    await waitForMirror(setup.sourceDir, dest);
    await readFile(path.join(setup.sourceDir, 'script.sh'));

    await chmod(path.join(setup.sourceDir, 'script.sh'), 0o755);

    await waitFor(async () => ((await lstat(path.join(dest, 'script.sh'))).mode & 0o777) === 0o755, { what: 'mode 755 on the destination copy' });
  });

  test('atomic saves arrive without the temp file', async () => {
    const setup = await addSync('atomic', [first], { 'notes.txt': 'v0' });
    const [dest] = setup.destinations;
    await waitForMirror(setup.sourceDir, dest);
    const seenNames = new Set<string>();
    const watching = setInterval(() => {
      readdir(dest).then((names) => names.forEach((name) => seenNames.add(name)), () => undefined);
    }, 10);

    for (let version = 1; version <= 5; version += 1) {
      const temp = path.join(setup.sourceDir, '.notes.txt.tmp');
      await writeFile(temp, `version ${version}`);
      await rename(temp, path.join(setup.sourceDir, 'notes.txt'));
      await sleep(300);
    }
    await appendFile(path.join(setup.sourceDir, 'notes.txt'), ' and an append');
    await waitFor(async () => (await readFile(path.join(dest, 'notes.txt'), 'utf8').catch(() => '')) === 'version 5 and an append', {
      what: 'the appended content on the destination',
    });
    clearInterval(watching);

    expect([...seenNames].filter((name) => name.includes('.notes.txt.tmp'))).toEqual([]);
    await waitForMirror(setup.sourceDir, dest);
  });

  test('offline destination catches up', async () => {
    const setup = await addSync('offline', [second], { 'keep.txt': 'keep', 'gone.txt': 'gone' });
    const [dest] = setup.destinations;
    await waitForMirror(setup.sourceDir, dest);

    await second.agent.stop();
    for (let version = 1; version <= 5; version += 1) {
      await writeFile(path.join(setup.sourceDir, 'keep.txt'), `keep ${version}`);
      await sleep(150);
    }
    await rm(path.join(setup.sourceDir, 'gone.txt'));
    await writeFile(path.join(setup.sourceDir, 'added.txt'), 'added while offline');
    await sleep(500);
    await second.agent.start();

    await waitForMirror(setup.sourceDir, dest);
    const applied = second.agent.process.logsWith('sync delivery applied', { configId: setup.configId, path: path.join(setup.sourceDir, 'keep.txt') });
    expect(applied.length).toBe(1);
  });

  test('folder renamed and back converges', async () => {
    const setup = await addSync('rename-back', [first, second], { 'projects/alpha/a.txt': 'a', 'projects/alpha/b.txt': 'b', 'projects/alpha/sub/c.txt': 'c' });
    for (const dir of setup.destinations) await waitForMirror(setup.sourceDir, dir);

    await rename(path.join(setup.sourceDir, 'projects/alpha'), path.join(setup.sourceDir, 'projects/beta'));
    for (const dir of setup.destinations) await waitForMirror(setup.sourceDir, dir);
    await rename(path.join(setup.sourceDir, 'projects/beta'), path.join(setup.sourceDir, 'projects/alpha'));
    await sleep(300);
    await rename(path.join(setup.sourceDir, 'projects/alpha'), path.join(setup.sourceDir, 'projects/beta'));
    await sleep(200);
    await rename(path.join(setup.sourceDir, 'projects/beta'), path.join(setup.sourceDir, 'projects/alpha'));

    for (const dir of setup.destinations) {
      await waitForMirror(setup.sourceDir, dir);
      expect((await readdir(path.join(dir, 'projects'))).sort()).toEqual(['alpha']);
    }
  });

  test('folder deleted and recreated converges', async () => {
    const setup = await addSync('recreate', [first], { 'inbox/one.txt': 'one', 'db/pg_wal/archive_status': { dir: true }, 'db/empty.conf': '' });
    const [dest] = setup.destinations;
    await waitForMirror(setup.sourceDir, dest);

    await rm(path.join(setup.sourceDir, 'inbox'), { recursive: true });
    await mkdir(path.join(setup.sourceDir, 'inbox/sub'), { recursive: true });
    await writeFile(path.join(setup.sourceDir, 'inbox/two.txt'), 'two, first draft');
    await sleep(100);
    await writeFile(path.join(setup.sourceDir, 'inbox/two.txt'), 'two, final');
    await rm(path.join(setup.sourceDir, 'db/pg_wal/archive_status'), { recursive: true });

    await waitForMirror(setup.sourceDir, dest);
    expect(await readFile(path.join(dest, 'inbox/two.txt'), 'utf8')).toBe('two, final');
    expect(await readdir(path.join(dest, 'db/pg_wal'))).toEqual([]);
  });

  test('queued deliveries survive a coordinator restart', async () => {
    const setup = await addSync('restart', [second], { 'before.txt': 'before' });
    const [dest] = setup.destinations;
    await waitForMirror(setup.sourceDir, dest);

    await second.agent.stop();
    await writeFile(path.join(setup.sourceDir, 'queued.txt'), 'queued while the destination was away');
    await waitFor(async () => (await syncStatus(setup.configId)).destinations[0].pending > 0, { what: 'a delivery queued for the stopped destination' });
    await company.coordinator.restart();
    await second.agent.start();

    await waitForMirror(setup.sourceDir, dest);
  });

  test('new include path is pushed and watched', async () => {
    const setup = await addSync('widen', [first], { 'one.txt': 'one' });
    const [dest] = setup.destinations;
    await waitForMirror(setup.sourceDir, dest);
    const extra = await makeTempDir('sync-extra');
    await writeTree(extra, { 'two.txt': 'two', 'sub/three.txt': 'three' });

    await company.cliJson(['sync', 'update', String(setup.configId), '--company', String(company.companyId), '--path', setup.sourceDir, '--path', extra, '--json']);
    await waitFor(async () => (await readFile(path.join(dest, 'sub/three.txt'), 'utf8').catch(() => '')) === 'three', { what: 'the newly included files on the destination' });
    await writeFile(path.join(extra, 'later.txt'), 'later');

    await waitFor(async () => (await readFile(path.join(dest, 'later.txt'), 'utf8').catch(() => '')) === 'later', { what: 'a file added later under the new include path' });
    expect(await readFile(path.join(dest, 'one.txt'), 'utf8')).toBe('one');
  });

  test('deleted config stops mirroring and keeps files', async () => {
    const setup = await addSync('stop', [first], { 'kept.txt': 'kept' });
    const [dest] = setup.destinations;
    await waitForMirror(setup.sourceDir, dest);

    const deleted = await company.cliJson<{ deleted: boolean; enable: boolean }>(['sync', 'delete', String(setup.configId), '--company', String(company.companyId), '--json']);
    expect(deleted.deleted).toBe(true);
    expect(deleted.enable).toBe(false);
    await source.agent.process.waitForLog('sync watcher stopped', { configId: setup.configId });
    await writeFile(path.join(setup.sourceDir, 'after.txt'), 'written after the delete');
    await rm(path.join(setup.sourceDir, 'kept.txt'));
    await sleep(1500);

    expect(await readdir(dest)).toEqual(['kept.txt']);
  });

  test('local edit on a destination is kept as a conflict copy', async () => {
    const setup = await addSync('conflict', [first], { 'plan.txt': 'original' });
    const [dest] = setup.destinations;
    await waitForMirror(setup.sourceDir, dest);

    await writeFile(path.join(dest, 'plan.txt'), 'edited on the destination');
    await sleep(50);
    await writeFile(path.join(setup.sourceDir, 'plan.txt'), 'edited on the source');

    const conflictName = await waitFor(async () => (await readdir(dest)).find((name) => name.startsWith('plan.sync-conflict-')), {
      what: 'a conflict copy of plan.txt on the destination',
    });
    expect(conflictName).toMatch(/^plan\.sync-conflict-\d{8}-\d{6}\.txt$/);
    expect(await readFile(path.join(dest, conflictName), 'utf8')).toBe('edited on the destination');
    await waitFor(async () => (await readFile(path.join(dest, 'plan.txt'), 'utf8')) === 'edited on the source', {
      what: 'the incoming version of plan.txt on the destination',
    });
    const status = await waitFor(async () => {
      const current = await syncStatus(setup.configId);
      return current.destinations[0].conflicts.length > 0 ? current : undefined;
    }, { what: 'sync status to list the conflict' });
    expect(status.destinations[0].conflicts[0].path).toBe(path.join(setup.sourceDir, 'plan.txt'));
  });

  test('destination does not echo files back', async () => {
    const setup = await addSync('forward', [first], { 'ping.txt': 'ping' });
    const [dest] = setup.destinations;
    await waitForMirror(setup.sourceDir, dest);
    const back = await company.cliJson<{ id: number }>([
      'sync', 'add', '--company', String(company.companyId), '--resource', String(first.resourceId), '--name', 'backward',
      '--path', dest, '--dest', `${source.resourceId}=${setup.sourceDir}`, '--json',
    ]);
    await sleep(1000);

    await writeFile(path.join(setup.sourceDir, 'pong.txt'), 'from the source');
    await waitForMirror(setup.sourceDir, dest);
    await sleep(1500);

    const echoed = source.agent.process.logsWith('sync delivery applied', { configId: back.id, path: path.join(dest, 'pong.txt') });
    expect(echoed).toEqual([]);
  });

  test('symlinked parent on a destination is rejected', async () => {
    const setup = await addSync('escape', [first], {});
    const [dest] = setup.destinations;
    const outside = await makeTempDir('sync-outside');
    await symlink(outside, path.join(dest, 'trap'));

    await mkdir(path.join(setup.sourceDir, 'trap'));
    await writeFile(path.join(setup.sourceDir, 'trap/payload.txt'), 'must not leave the destination');
    await first.agent.process.waitForLog('sync delivery failed', { configId: setup.configId });

    expect(await readdir(outside)).toEqual([]);
    expect((await lstat(path.join(dest, 'trap'))).isSymbolicLink()).toBe(true);
  });

  test('symlinked folder on a destination is not followed', async () => {
    const setup = await addSync('chmod-escape', [first], {});
    const [dest] = setup.destinations;
    const outside = await makeTempDir('sync-outside-mode');
    await chmod(outside, 0o755);
    await symlink(outside, path.join(dest, 'evil'));

    await mkdir(path.join(setup.sourceDir, 'evil'), { mode: 0o700 });
    await first.agent.process.waitForLog('sync delivery failed', { configId: setup.configId, path: path.join(setup.sourceDir, 'evil') });

    expect((await lstat(outside)).mode & 0o777).toBe(0o755);
  });

  test('folder delete keeps files the sync did not write', async () => {
    const setup = await addSync('keep-local', [first], { 'deep/synced.txt': 'from the source' });
    const [dest] = setup.destinations;
    await waitForMirror(setup.sourceDir, dest);
    await writeFile(path.join(dest, 'deep/mine.txt'), 'written on the destination');

    await rm(path.join(setup.sourceDir, 'deep'), { recursive: true });
    await waitFor(async () => (await lstat(path.join(dest, 'deep/synced.txt')).catch(() => null)) === null, { what: 'the synced file removed from the destination' });

    expect(await readFile(path.join(dest, 'deep/mine.txt'), 'utf8')).toBe('written on the destination');
  });

  test('large file streams with flat memory', async () => {
    const setup = await addSync('large', [second], {});
    const [dest] = setup.destinations;
    const agents = [['source', source.agent.process], ['destination', second.agent.process], ['coordinator', company.coordinator.process]] as const;
    const before = new Map<string, number>();
    for (const [label, process] of agents) before.set(label, await peakMemoryKiB(process.pid));

    // 256 MiB written in 1 MiB appends while the watcher sees it grow.
    const big = path.join(setup.sourceDir, 'big.bin');
    const chunk = uniqueContent(1 << 20);
    for (let index = 0; index < 256; index += 1) {
      chunk[0] = index;
      await appendFile(big, chunk);
    }

    const copy = path.join(dest, 'big.bin');
    await waitFor(async () => (await lstat(copy).catch(() => null))?.size === 256 * (1 << 20), { what: 'the 256 MiB file on the destination', timeoutMs: 90_000, intervalMs: 250 });
    expect(await sha256(copy)).toBe(await sha256(big));
    for (const [label, process] of agents) {
      const growthKiB = (await peakMemoryKiB(process.pid)) - before.get(label)!;
      expect(growthKiB, `growth of the ${label}'s peak memory in KiB`).toBeLessThan(128 * 1024);
    }
  });
});

/** The peak resident memory of a process so far (VmHWM), in KiB. */
async function peakMemoryKiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+)/.exec(status)?.[1]);
}

describe('sync config validation', () => {
  test('rejects bad destinations and paths', async () => {
    const other = await registerCompany(company.coordinator, 'Others');
    const foreign = await enrollAgent(other, 'foreign');
    const base = { name: 'bad', resourceId: source.resourceId, pathDetails: { includePaths: ['/tmp/x'] } };
    const cases: [string, unknown, RegExp][] = [
      ['foreign destination', { ...base, destinationResources: [foreign.resourceId] }, /destinationResources\[0\].*another company/],
      ['unknown destination', { ...base, destinationResources: [999_999] }, /999999/],
      ['source as destination', { ...base, destinationResources: [source.resourceId] }, /own destination/],
      ['relative path', { ...base, pathDetails: { includePaths: ['docs'] }, destinationResources: [first.resourceId] }, /includePaths\[0\].*absolute/],
    ];
    for (const [label, body, message] of cases) {
      const response = await company.api('POST', `/companies/${company.companyId}/sync-configs`, { json: body });
      expect(response.status, label).toBeGreaterThanOrEqual(400);
      expect(response.status, label).toBeLessThan(500);
      expect(response.body.error.message, label).toMatch(message);
    }
    const listed = await company.api('GET', `/companies/${company.companyId}/sync-configs`);
    expect(listed.body.filter((config: { name: string }) => config.name === 'bad')).toEqual([]);
  });

  test('legacy addConfig creates a sync config', async () => {
    const dir = await makeTempDir('legacy-sync');
    const response = await company.api('POST', '/sync/updateConfig', {
      json: { addConfig: { name: 'sync-toSync2', enable: true, companyId: company.companyId, resourceId: source.resourceId, pathDetails: { includePaths: [dir] }, destinationResources: [first.resourceId] } },
    });
    expect(response.status).toBe(201);
    expect(response.body.destinationResources).toEqual([first.resourceId]);

    const removed = await company.api('POST', '/sync/updateConfig', { json: { deleteConfig: { id: response.body.id } } });
    expect(removed.status).toBe(200);
    expect(removed.body.deleted).toBe(true);
  });
});

describe('file share', () => {
  test('shared file lands in the given folder', async () => {
    const local = await makeTempDir('share-local');
    const file = path.join(local, 'price+tax 100%.pdf');
    await writeFile(file, uniqueContent(70_000));
    const target = await makeTempDir('share-target');

    const result = await company.cliJson<{ path: string }>([
      'share', '--company', String(company.companyId), '--resource', String(first.resourceId), file, '--to', target, '--wait', '--json',
    ]);

    expect(result.path).toBe(path.join(target, 'price+tax 100%.pdf'));
    expect(await sha256(result.path)).toBe(await sha256(file));
  });
});
