import fs from 'node:fs';
import path from 'node:path';
import WebSocket from 'ws';
import type { ServerMessage } from '../src/protocol/actions.ts';
import type { Installer } from '../src/protocol/company.ts';
import type { RegisterResourceResult } from '../src/protocol/resource.ts';
import { freshFolder, timedStep, type BenchContext } from './context.ts';
import { median, processCpuMs, processMemory } from './measure.ts';
import { BenchCluster, percentile, sleep } from './processes.ts';
import { createBackupConfig } from './syncctl-runs.ts';

/** Enrollment and connection requests in flight at once while the simulated agents start. */
const setupConcurrency = 16;

/** ms allowed for one action to reach every simulated agent before the scenario fails. */
const deliveryTimeoutMs = 120_000;

export interface FanOutResults {
  agents: number;
  registerMs: number;
  connectMs: number;
  /** Coordinator resident memory with every simulated agent connected and idle. */
  rssConnectedBytes: number;
  /** Per repetition: ms from the config request until the last agent received its add_config. */
  deliveryMs: number[];
  /** Per repetition: ms until half of the agents had it. */
  deliveryP50Ms: number[];
  /** Per repetition: ms until the coordinator responded to the config request. */
  requestMs: number[];
  /** Coordinator CPU time during each delivery. */
  coordinatorCpuMs: number[];
  peakRssBytes: number;
}

/**
 * A websocket client that acts as an enrolled agent. It has a real resource token, receives the
 * coordinator's actions and acknowledges each one, as the agent does once it handled it.
 */
class SimulatedAgent {
  readonly resourceId: number;
  private readonly socket: WebSocket;
  /** Arrival time (performance.now) of the add_config action of each config id. */
  readonly configArrivals = new Map<number, number>();
  readonly ready: Promise<void>;

  constructor(url: string, registration: RegisterResourceResult) {
    this.resourceId = registration.resourceId;
    this.socket = new WebSocket(url, { headers: { authorization: `Bearer ${registration.token}` } });
    this.ready = new Promise((resolve, reject) => {
      // Listeners stay attached, so an error after the hello is handled too; rejecting then is a no-op.
      this.socket.on('error', reject);
      this.socket.on('close', (code) => reject(new Error(`simulated agent ${this.resourceId} closed with ${code} before hello`)));
      this.socket.on('message', (data) => {
        const message = JSON.parse(data.toString()) as ServerMessage;
        if (message.type === 'hello') {
          resolve();
          return;
        }
        if (message.action.kind === 'add_config') this.configArrivals.set(message.action.config.id, performance.now());
        this.socket.send(JSON.stringify({ type: 'ack', id: message.id }));
      });
    });
  }

  close(): void {
    this.socket.terminate();
  }
}

/** Runs `task` for each item with at most `limit` in flight and returns the results in order. */
async function mapLimited<T, R>(items: readonly T[], limit: number, task: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next;
      next += 1;
      results[index] = await task(items[index]);
    }
  });
  await Promise.all(workers);
  return results;
}

/**
 * Measures the coordinator with `agentCount` simulated agents: each enrolls with
 * `POST /resource/register` and the installer's secret, then keeps a websocket open. Each
 * repetition creates one company-wide backup config and times until every agent received its
 * add_config action.
 */
export async function benchCoordinatorFanOut(context: BenchContext, agentCount: number): Promise<FanOutResults> {
  const root = freshFolder(context, 'syncctl-fan-out');
  const cluster = new BenchCluster(root, context.clusterOptions);
  await cluster.start();
  const agents: SimulatedAgent[] = [];
  try {
    const installerFile = await cluster.writeInstaller(path.join(root, 'installer'));
    const installer = JSON.parse(fs.readFileSync(installerFile, 'utf8')) as Installer;
    const indexes = Array.from({ length: agentCount }, (_, index) => index);

    let started = performance.now();
    const registrations = await mapLimited(indexes, setupConcurrency, async (index) => {
      const response = await fetch(`${cluster.url}/resource/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ companyId: installer.companyId, enrollmentSecret: installer.enrollmentSecret, name: `simulated-${index}`, hostname: `simulated-${index}`, platform: 'linux' }),
      });
      if (!response.ok) throw new Error(`POST /resource/register failed with HTTP ${response.status}: ${await response.text()}`);
      return (await response.json()) as RegisterResourceResult;
    });
    const registerMs = performance.now() - started;

    started = performance.now();
    const socketUrl = `${cluster.url.replace(/^http/, 'ws')}/agent/ws`;
    await mapLimited(registrations, setupConcurrency, async (registration) => {
      const agent = new SimulatedAgent(socketUrl, registration);
      agents.push(agent);
      await agent.ready;
    });
    const connectMs = performance.now() - started;
    context.log(`fan-out: ${agentCount} simulated agents enrolled in ${(registerMs / 1000).toFixed(1)} s and connected in ${(connectMs / 1000).toFixed(1)} s`);
    await sleep(2000);

    const coordinatorPid = cluster.coordinator!.pid!;
    const results: FanOutResults = {
      agents: agentCount,
      registerMs,
      connectMs,
      rssConnectedBytes: processMemory(coordinatorPid).rssBytes,
      deliveryMs: [],
      deliveryP50Ms: [],
      requestMs: [],
      coordinatorCpuMs: [],
      peakRssBytes: 0,
    };

    for (let round = 0; round < context.repetitions; round += 1) {
      const cpuBefore = processCpuMs(coordinatorPid);
      let requested = 0;
      let requestMs = 0;
      const { result: config } = await timedStep(context, `delivery to ${agentCount} agents`, async () => {
        // Taken here, after timedStep has let the machine settle, which is not part of the delivery.
        requested = performance.now();
        const created = await createBackupConfig(cluster, cluster.company, null, `company-wide-${round}`, [`/srv/company-wide-${round}`]);
        requestMs = performance.now() - requested;
        const deadline = requested + deliveryTimeoutMs;
        while (agents.some((agent) => !agent.configArrivals.has(created.id))) {
          if (performance.now() > deadline) throw new Error(`add_config of config ${created.id} did not reach every simulated agent within ${deliveryTimeoutMs / 1000} s`);
          await sleep(5);
        }
        return created;
      });
      results.requestMs.push(requestMs);
      const arrivals = agents.map((agent) => agent.configArrivals.get(config.id)! - requested);
      results.deliveryMs.push(Math.max(...arrivals));
      results.deliveryP50Ms.push(percentile(arrivals, 0.5));
      results.coordinatorCpuMs.push(processCpuMs(coordinatorPid) - cpuBefore);
      context.log(`fan-out ${round + 1}/${context.repetitions}: all ${agentCount} had add_config after ${Math.round(Math.max(...arrivals))} ms (half after ${Math.round(percentile(arrivals, 0.5))} ms, request returned after ${Math.round(results.requestMs.at(-1)!)} ms)`);
      // The acknowledgements of the add_config and backup actions are still being written.
      await sleep(2000);
    }
    results.peakRssBytes = processMemory(coordinatorPid).peakRssBytes;
    context.peak.record('coordinator', `${agentCount} agents connected`, coordinatorPid);
    context.log(`fan-out: coordinator RSS ${Math.round(results.rssConnectedBytes / 1e6)} MB connected, peak ${Math.round(results.peakRssBytes / 1e6)} MB; median delivery ${Math.round(median(results.deliveryMs))} ms`);
    return results;
  } finally {
    for (const agent of agents) agent.close();
    await cluster.stop();
  }
}
