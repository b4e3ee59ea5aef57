import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import WebSocket from 'ws';
import type { AgentAction, ServerMessage } from '../../src/protocol/actions.ts';
import type { RegisterResourceResult } from '../../src/protocol/resource.ts';
import { api, expectApiSuccess } from '../helpers/api.ts';
import { deferCleanup } from '../helpers/cleanup.ts';
import { downloadInstaller, readInstaller, registerCompany, type Company } from '../helpers/company.ts';
import { startCoordinator, type Coordinator } from '../helpers/coordinator.ts';
import { waitFor } from '../helpers/wait.ts';

// Every resource is enrolled with POST /resource/register, as the agent does. Two of every three
// are connected: a websocket client in this process that acknowledges each action, as the agent
// does. The 520 resources need more than one transaction of the coordinator (500 resources each).
// The 347 connected ones need more than one event-loop turn of the relay (256 messages each) for
// their add_config actions, and again for their backup actions.
const resourceCount = 520;
const isConnected = (index: number) => index % 3 !== 1;

/** A websocket client with a resource token that records and acknowledges every action. */
class RecordingAgent {
  readonly resourceId: number;
  readonly actions: { id: number; action: AgentAction }[] = [];
  private readonly socket: WebSocket;
  readonly ready: Promise<void>;

  constructor(url: string, registration: RegisterResourceResult) {
    this.resourceId = registration.resourceId;
    this.socket = new WebSocket(`${url.replace(/^http/, 'ws')}/agent/ws`, { headers: { authorization: `Bearer ${registration.token}` } });
    this.ready = new Promise((resolve, reject) => {
      this.socket.on('error', reject);
      this.socket.on('message', (data) => {
        const message = JSON.parse(data.toString()) as ServerMessage;
        if (message.type === 'hello') {
          resolve();
          return;
        }
        this.actions.push({ id: message.id, action: message.action });
        this.socket.send(JSON.stringify({ type: 'ack', id: message.id }));
      });
    });
  }

  /** Returns the actions of one kind that carry `configId`, in arrival order. */
  received(kind: AgentAction['kind'], configId: number): { id: number; action: AgentAction }[] {
    return this.actions.filter((entry) => entry.action.kind === kind && actionConfigId(entry.action) === configId);
  }

  /** Sends an acknowledgement for any action id, as a faulty or hostile agent could. */
  sendAck(actionId: number): void {
    this.socket.send(JSON.stringify({ type: 'ack', id: actionId }));
  }

  close(): void {
    this.socket.terminate();
  }
}

function actionConfigId(action: AgentAction): number | undefined {
  if (action.kind === 'add_config' || action.kind === 'update_config' || action.kind === 'sync_watch') return action.config.id;
  if (action.kind === 'delete_config' || action.kind === 'backup' || action.kind === 'sync_unwatch') return action.configId;
  return undefined;
}

interface OutboxRow {
  id: number;
  resource_id: number;
  kind: string;
  payload_json: string;
  acked_at: string | null;
}

interface RunRow {
  id: number;
  resource_id: number;
  status: string;
  trigger: string;
  full: number;
  error: string | null;
}

let coordinator: Coordinator;
let alpha: Company;
let registrations: RegisterResourceResult[];
let agents: RecordingAgent[];
/** Enrolled, but connects only after the configs were created. */
let offline: RegisterResourceResult;
let db: Database.Database;

beforeAll(async () => {
  coordinator = await startCoordinator();
  alpha = await registerCompany(coordinator, 'Fanout');
  const installer = await readInstaller(await downloadInstaller(alpha));

  registrations = [];
  const names = Array.from({ length: resourceCount }, (_, index) => `machine-${index}`);
  // Eight registrations in flight at a time.
  for (let start = 0; start < names.length; start += 8) {
    const batch = names.slice(start, start + 8).map(async (name) => {
      const response = await api(coordinator.url, 'POST', '/resource/register', {
        json: { companyId: installer.companyId, enrollmentSecret: installer.enrollmentSecret, name },
      });
      return expectApiSuccess<RegisterResourceResult>(response);
    });
    registrations.push(...(await Promise.all(batch)));
  }
  offline = registrations[1];

  agents = registrations.filter((_, index) => isConnected(index)).map((registration) => new RecordingAgent(coordinator.url, registration));
  deferCleanup(() => agents.forEach((agent) => agent.close()));
  await Promise.all(agents.map((agent) => agent.ready));

  db = new Database(path.join(coordinator.dataDir, 'syncctl.sqlite'), { readonly: true, fileMustExist: true });
});

afterAll(() => db?.close());

const configsPath = () => `/companies/${alpha.companyId}/backup-configs`;

function companyWideInput(name: string) {
  return {
    name,
    enable: true,
    resourceId: null,
    scheduleDetails: { scheduleType: 'DAYS', scheduleInterval: 1 },
    pathDetails: { includePaths: [`/srv/${name}`], excludePaths: ['*.tmp'] },
  };
}

/** Waits until every agent in `targets` has at least one action of `kind` for `configId`. */
async function waitForEveryAgent(targets: RecordingAgent[], kind: AgentAction['kind'], configId: number): Promise<void> {
  await waitFor(() => targets.every((agent) => agent.received(kind, configId).length > 0), {
    what: `a ${kind} action of config ${configId} at each of ${targets.length} agents`,
    timeoutMs: 30_000,
    intervalMs: 50,
    context: () => {
      const missing = targets.filter((agent) => agent.received(kind, configId).length === 0).map((agent) => agent.resourceId);
      return `resources still without it: ${missing.slice(0, 20).join(', ')}${missing.length > 20 ? ', ...' : ''}`;
    },
  });
}

function outboxRows(configId: number): OutboxRow[] {
  const rows = db.prepare('select id, resource_id, kind, payload_json, acked_at from outbox order by id').all() as OutboxRow[];
  return rows.filter((row) => actionConfigId(JSON.parse(row.payload_json) as AgentAction) === configId);
}

function runRows(configId: number): RunRow[] {
  return db.prepare("select id, resource_id, status, trigger, full, error from runs where config_id = ? and kind = 'backup' order by id").all(configId) as RunRow[];
}

function mappedResourceIds(configId: number): number[] {
  const rows = db.prepare('select resource_id from resource_config_mappings where config_id = ? order by resource_id').all(configId) as { resource_id: number }[];
  return rows.map((row) => row.resource_id);
}

async function armedJobs(): Promise<{ configId: number; resourceId: number; jobGroup: string; nextFireAt: string | null }[]> {
  return expectApiSuccess(await api(coordinator.url, 'GET', '/admin/jobs', { token: coordinator.adminToken }));
}

const allResourceIds = () => registrations.map((registration) => registration.resourceId).sort((a, b) => a - b);

describe('company-wide config', () => {
  let configId: number;

  test('reaches every connected agent once', async () => {
    const created = expectApiSuccess(await alpha.api('POST', configsPath(), { json: companyWideInput('everywhere') }));
    configId = created.id;
    await waitForEveryAgent(agents, 'backup', configId);
    // A rename sends update_config to every resource after the actions queued before it, so
    // once each agent has it, a duplicate sent earlier would have arrived too.
    expectApiSuccess(await alpha.api('PATCH', `${configsPath()}/${configId}`, { json: { name: 'everywhere renamed' } }));
    await waitForEveryAgent(agents, 'update_config', configId);

    for (const agent of agents) {
      const added = agent.received('add_config', configId);
      const backups = agent.received('backup', configId);
      const updates = agent.received('update_config', configId);
      expect(added, `add_config actions at resource ${agent.resourceId}`).toHaveLength(1);
      expect(backups, `backup actions at resource ${agent.resourceId}`).toHaveLength(1);
      expect(updates, `update_config actions at resource ${agent.resourceId}`).toHaveLength(1);
      expect(added[0].action).toEqual({
        kind: 'add_config',
        config: { id: configId, name: 'everywhere', companyId: alpha.companyId, includePaths: ['/srv/everywhere'], excludePaths: ['*.tmp'], lastSnapshotId: null },
      });
      const arrived = agent.actions.filter((entry) => actionConfigId(entry.action) === configId);
      expect(arrived.map((entry) => entry.action.kind), `arrival order at resource ${agent.resourceId}`).toEqual(['add_config', 'backup', 'update_config']);
      expect(arrived.map((entry) => entry.id), `action ids at resource ${agent.resourceId}`).toEqual([added[0].id, backups[0].id, updates[0].id].sort((a, b) => a - b));
    }
  });

  test('reaches an offline resource when it connects', async () => {
    const late = new RecordingAgent(coordinator.url, offline);
    deferCleanup(() => late.close());
    await late.ready;
    await waitForEveryAgent([late], 'update_config', configId);

    expect(late.received('add_config', configId)).toHaveLength(1);
    expect(late.received('backup', configId)).toHaveLength(1);
    expect(late.actions.map((entry) => entry.action.kind)).toEqual(['add_config', 'backup', 'update_config']);
  });

  test('stores rows per resource', async () => {
    expect(mappedResourceIds(configId)).toEqual(allResourceIds());

    const runs = runRows(configId);
    expect(runs.map((run) => run.resource_id).sort((a, b) => a - b)).toEqual(allResourceIds());
    for (const run of runs) {
      expect(run, `run ${run.id}`).toMatchObject({ status: 'queued', trigger: 'initial', full: 1, error: null });
    }

    const rows = outboxRows(configId);
    const runIdOf = new Map(runs.map((run) => [run.resource_id, run.id]));
    for (const resourceId of allResourceIds()) {
      const own = rows.filter((row) => row.resource_id === resourceId);
      expect(own.map((row) => row.kind), `outbox kinds of resource ${resourceId}`).toEqual(['add_config', 'backup', 'update_config']);
      expect(JSON.parse(own[1].payload_json), `backup action of resource ${resourceId}`).toEqual({ kind: 'backup', runId: runIdOf.get(resourceId), configId });
    }
  });

  test('acks only delivered actions', async () => {
    const connected = new Set([...agents.map((agent) => agent.resourceId), offline.resourceId]);
    const rows = await waitFor(
      () => {
        const current = outboxRows(configId);
        return current.filter((row) => connected.has(row.resource_id)).every((row) => row.acked_at !== null) ? current : undefined;
      },
      { what: `acknowledgements of every action of config ${configId} sent to a connected agent`, timeoutMs: 10_000, intervalMs: 50 },
    );

    const unacked = rows.filter((row) => row.acked_at === null);
    expect(new Set(unacked.map((row) => row.resource_id)).size).toBe(resourceCount - connected.size);
    expect(unacked.every((row) => !connected.has(row.resource_id))).toBe(true);
  });

  test('ignores an acknowledgement for another resource', async () => {
    const [agent] = agents;
    const foreign = outboxRows(configId).find((row) => row.acked_at === null)!;
    const own = outboxRows(configId).find((row) => row.resource_id === agent.resourceId)!;
    await new Promise((resolve) => setTimeout(resolve, 5));

    // The second acknowledgement rewrites acked_at of the agent's own action. Once that shows,
    // the first one, sent before it on the same socket, has been handled too.
    agent.sendAck(foreign.id);
    agent.sendAck(own.id);
    await waitFor(() => outboxRows(configId).find((row) => row.id === own.id)!.acked_at !== own.acked_at, {
      what: `a new acked_at on outbox row ${own.id}`,
      timeoutMs: 10_000,
      intervalMs: 20,
    });

    expect(outboxRows(configId).find((row) => row.id === foreign.id)!.acked_at).toBeNull();
  });

  test('arms one job per resource', async () => {
    const jobs = (await armedJobs()).filter((job) => job.configId === configId);

    expect(jobs.map((job) => job.resourceId).sort((a, b) => a - b)).toEqual(allResourceIds());
    for (const job of jobs) {
      expect(job.jobGroup).toBe(`JobGroup_client:${alpha.companyId}_resource:${job.resourceId}`);
      expect(Date.parse(job.nextFireAt ?? '')).toBeGreaterThan(Date.now());
    }
  });

  test('new paths keep the queued run', async () => {
    const paths = { includePaths: ['/srv/everywhere', '/srv/more'], excludePaths: [] };
    expectApiSuccess(await alpha.api('PATCH', `${configsPath()}/${configId}`, { json: { pathDetails: paths } }));
    await waitFor(() => agents.every((agent) => agent.received('update_config', configId).length === 2), {
      what: `a second update_config action of config ${configId} at each agent`,
      timeoutMs: 30_000,
      intervalMs: 50,
    });

    const runs = runRows(configId);
    expect(runs).toHaveLength(resourceCount);
    expect(runs.every((run) => run.status === 'queued' && run.trigger === 'initial')).toBe(true);
    for (const agent of agents) {
      const update = agent.received('update_config', configId)[1].action;
      expect(update).toMatchObject({ kind: 'update_config', pathsChanged: true, config: { includePaths: paths.includePaths } });
      expect(agent.received('backup', configId), `backup actions at resource ${agent.resourceId}`).toHaveLength(1);
    }
  });

  test('delete reaches agents and cancels runs', async () => {
    expectApiSuccess(await alpha.api('DELETE', `${configsPath()}/${configId}`));
    await waitForEveryAgent(agents, 'delete_config', configId);

    for (const agent of agents) {
      expect(agent.received('delete_config', configId), `delete_config actions at resource ${agent.resourceId}`).toHaveLength(1);
    }
    const runs = runRows(configId);
    expect(runs.every((run) => run.status === 'failed' && run.error === 'backup config deleted')).toBe(true);
    expect((await armedJobs()).filter((job) => job.configId === configId)).toEqual([]);
  });
});

describe('legacy addConfig', () => {
  test('reaches every connected agent once', async () => {
    const input = { ...companyWideInput('legacy-everywhere'), companyId: alpha.companyId };
    const created = expectApiSuccess(await alpha.api('POST', '/backup/updateConfig', { json: { addConfig: input } }));
    const configId: number = created.id;
    await waitForEveryAgent(agents, 'backup', configId);
    // The delete_config of every resource follows its earlier actions, like the rename above.
    expectApiSuccess(await alpha.api('POST', '/backup/updateConfig', { json: { deleteConfig: { id: configId } } }));
    await waitForEveryAgent(agents, 'delete_config', configId);

    for (const agent of agents) {
      expect(agent.received('add_config', configId), `add_config actions at resource ${agent.resourceId}`).toHaveLength(1);
      expect(agent.received('backup', configId), `backup actions at resource ${agent.resourceId}`).toHaveLength(1);
    }
    expect(mappedResourceIds(configId)).toEqual(allResourceIds());
    expect(runRows(configId).map((run) => run.resource_id).sort((a, b) => a - b)).toEqual(allResourceIds());
  });
});
