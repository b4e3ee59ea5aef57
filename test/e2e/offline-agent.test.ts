import { rm, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { expectApiSuccess } from '../helpers/api.ts';
import {
  backUpNewTree,
  backupUntilMatches,
  listSnapshots,
  restoredPath,
  restoreSnapshot,
  runBackup,
  snapshotIdsOldestFirst,
  totalUploads,
  waitForSnapshots,
} from '../helpers/backup.ts';
import { enrollAgent, listResources, registerCompany, waitForResource, type Company, type EnrolledAgent } from '../helpers/company.ts';
import { startCoordinator, type Coordinator } from '../helpers/coordinator.ts';
import { describeTree, expectTreeEquals, uniqueContent, type TreeSpec } from '../helpers/tree.ts';
import { waitFor } from '../helpers/wait.ts';

// A short heartbeat keeps the dead-connection test fast. SYNCCTL_HEARTBEAT_MS sets the
// coordinator's ping interval in milliseconds.
const heartbeatMs = 1000;

let coordinator: Coordinator;
let alpha: Company;

beforeAll(async () => {
  coordinator = await startCoordinator({ env: { SYNCCTL_HEARTBEAT_MS: String(heartbeatMs) } });
  alpha = await registerCompany(coordinator, 'Alpha');
});

/** Enrolls an agent, backs up a new tree with it and waits for the initial snapshot. */
async function agentWithBackup(name: string, spec: TreeSpec) {
  const enrolled = await enrollAgent(alpha, name);
  return { ...enrolled, ...(await backUpNewTree(alpha, enrolled.resourceId, spec)) };
}

/** Reads the resource's online state from `GET /companies/:id/resources`, which is faster to poll than the CLI. */
async function isOnline(resource: EnrolledAgent): Promise<boolean | undefined> {
  const resources = expectApiSuccess(await alpha.api('GET', `/companies/${alpha.companyId}/resources`));
  return resources.find((entry: { id: number }) => entry.id === resource.resourceId)?.online;
}

describe('stopped agent', () => {
  test('is listed offline and keeps its id on restart', async () => {
    const { agent, resourceId } = await enrollAgent(alpha, 'commuter');

    await agent.stop();
    const stoppedAt = Date.now();
    const offline = await waitForResource(alpha, 'commuter', false, 10_000);

    expect(offline.id).toBe(resourceId);
    const lastSeen = Date.parse(offline.lastSeenAt ?? '');
    expect(lastSeen).toBeGreaterThan(stoppedAt - 60_000);
    expect(lastSeen).toBeLessThanOrEqual(Date.now());

    await agent.start();
    const online = await waitForResource(alpha, 'commuter', true);

    expect(online.id).toBe(resourceId);
    expect((await listResources(alpha)).filter((entry) => entry.name === 'commuter')).toHaveLength(1);
  });

  test('changes made while stopped are found at start', async () => {
    const { agent, resourceId, source, config } = await agentWithBackup('sleeper', {
      'keep.txt': uniqueContent(1000),
      'change.txt': uniqueContent(2000),
      'remove.txt': uniqueContent(3000),
      'touch.txt': uniqueContent(4000),
      'dir/remove-dir/inner.txt': uniqueContent(5000),
    });

    await agent.stop();
    await writeFile(path.join(source, 'change.txt'), uniqueContent(2222));
    await writeFile(path.join(source, 'dir', 'new.txt'), uniqueContent(555));
    await rm(path.join(source, 'remove.txt'));
    await rm(path.join(source, 'dir', 'remove-dir'), { recursive: true });
    await utimes(path.join(source, 'touch.txt'), new Date('2025-01-02T03:04:05Z'), new Date('2025-01-02T03:04:05Z'));
    await agent.start();
    const runs = await backupUntilMatches(alpha, { configId: config.id, resourceId, source });

    expect(totalUploads(runs)).toEqual({ filesUploaded: 2, bytesUploaded: 2222 + 555 });
  });

  test('run requested while stopped runs after restart', async () => {
    const { agent, resourceId, source, config } = await agentWithBackup('latecomer', { 'before.txt': uniqueContent(100) });
    await agent.stop();
    await waitForResource(alpha, 'latecomer', false, 10_000);

    await writeFile(path.join(source, 'written-offline.txt'), uniqueContent(321));
    const requested = await alpha.cli([
      'backup', 'run', String(config.id), '--company', String(alpha.companyId), '--resource', String(resourceId), '--json',
    ]);

    expect(requested.code, requested.stderr).toBe(0);
    expect(await listSnapshots(alpha, config.id, resourceId)).toHaveLength(1);

    await agent.start();
    const snapshots = await waitForSnapshots(alpha, config.id, resourceId, 2);

    const latest = snapshotIdsOldestFirst(snapshots).at(-1)!;
    const { to } = await restoreSnapshot(alpha, { configId: config.id, resourceId, snapshot: latest });
    // The run starts after the agent has compared the tree with the last snapshot, so it contains
    // the file written while the agent was down. Folder mtimes after a change have a test of their own.
    await expectTreeEquals(restoredPath(to, source), await describeTree(source), { folderMtimes: false });
    const next = await runBackup(alpha, config.id, resourceId);
    const all = await listSnapshots(alpha, config.id, resourceId);
    expect(all.map((entry) => entry.id).sort()).toEqual([...snapshots.map((entry) => entry.id), next.snapshotId].sort());
  });
});

describe('silent connection', () => {
  test('paused agent is offline within two heartbeats', async () => {
    const frozen = await agentWithBackup('frozen', { 'data.txt': uniqueContent(100) });
    const { agent, resourceId, config } = frozen;

    agent.pause();
    const pausedAt = Date.now();
    // Sent while the coordinator still treats the silent connection as alive.
    const queued = await alpha.cli([
      'backup', 'run', String(config.id), '--company', String(alpha.companyId), '--resource', String(resourceId), '--json',
    ]);
    await waitFor(async () => (await isOnline(frozen)) === false, {
      what: 'the paused agent to be listed offline',
      timeoutMs: 10 * heartbeatMs,
      intervalMs: 100,
    });
    const detectedAfterMs = Date.now() - pausedAt;

    expect(queued.code, queued.stderr).toBe(0);
    expect(detectedAfterMs).toBeLessThanOrEqual(2 * heartbeatMs + 1000);
    expect(await listSnapshots(alpha, config.id, resourceId)).toHaveLength(1);

    agent.resume();
    await agent.waitConnected(2);
    await waitForSnapshots(alpha, config.id, resourceId, 2);
    const next = await runBackup(alpha, config.id, resourceId);

    // The initial push, the run sent during the pause exactly once, and the run just made.
    const snapshots = await listSnapshots(alpha, config.id, resourceId);
    expect(snapshots).toHaveLength(3);
    expect(snapshots.map((entry) => entry.id)).toContain(next.snapshotId);
  });
});

describe('coordinator restart', () => {
  test('agent reconnects and backs up again', async () => {
    const restarting = await agentWithBackup('steadfast', { 'data.txt': uniqueContent(100) });
    const { agent, resourceId, source, config } = restarting;

    await coordinator.restart();
    await agent.waitConnected(2);
    await waitFor(() => isOnline(restarting), { what: 'the agent to be online after the coordinator restart' });
    await writeFile(path.join(source, 'after-restart.txt'), uniqueContent(200));
    const runs = await backupUntilMatches(alpha, { configId: config.id, resourceId, source });

    expect(totalUploads(runs)).toEqual({ filesUploaded: 1, bytesUploaded: 200 });
  });
});
