import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { measureLatencies } from './latency.ts';
import { sleep, terminate } from './processes.ts';
import { runCommand } from './tools.ts';

/** Syncthing's minimum watcher delay in seconds: a change is scanned this long after the last event. */
export const watcherDelaySeconds = 1;

const folderId = 'bench';

interface Instance {
  name: string;
  home: string;
  folder: string;
  deviceId: string;
  listenPort: number;
  guiPort: number;
  apiKey: string;
  child: ChildProcess | null;
}

/** Returns a TCP port on 127.0.0.1 that was free a moment ago. */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/**
 * Writes a configuration that keeps Syncthing on loopback. The listen and GUI addresses are on
 * 127.0.0.1 with fixed ports, and the peer's address is given as tcp://127.0.0.1:PORT. Global
 * and local discovery, relays, NAT traversal (which also stops STUN), LAN address announcements,
 * usage and crash reporting and automatic upgrades are all turned off.
 */
function writeConfig(self: Instance, peer: Instance): void {
  const device = (instance: Instance, address: string): string =>
    `  <device id="${instance.deviceId}" name="${instance.name}" compression="metadata" introducer="false">\n    <address>${address}</address>\n  </device>`;
  const xml = `<configuration version="36">
  <folder id="${folderId}" label="${folderId}" path="${escapeXml(self.folder)}" type="sendreceive" rescanIntervalS="3600" fsWatcherEnabled="true" fsWatcherDelayS="${watcherDelaySeconds}" ignorePerms="false" autoNormalize="true">
    <filesystemType>basic</filesystemType>
    <device id="${self.deviceId}"></device>
    <device id="${peer.deviceId}"></device>
    <markerName>.stfolder</markerName>
  </folder>
${device(self, 'dynamic')}
${device(peer, `tcp://127.0.0.1:${peer.listenPort}`)}
  <gui enabled="true" tls="false">
    <address>127.0.0.1:${self.guiPort}</address>
    <apikey>${self.apiKey}</apikey>
  </gui>
  <options>
    <listenAddress>tcp://127.0.0.1:${self.listenPort}</listenAddress>
    <globalAnnounceEnabled>false</globalAnnounceEnabled>
    <localAnnounceEnabled>false</localAnnounceEnabled>
    <relaysEnabled>false</relaysEnabled>
    <natEnabled>false</natEnabled>
    <announceLANAddresses>false</announceLANAddresses>
    <urAccepted>-1</urAccepted>
    <crashReportingEnabled>false</crashReportingEnabled>
    <autoUpgradeIntervalH>0</autoUpgradeIntervalH>
    <startBrowser>false</startBrowser>
    <reconnectionIntervalS>1</reconnectionIntervalS>
  </options>
</configuration>
`;
  fs.writeFileSync(path.join(self.home, 'config.xml'), xml);
}

/**
 * Two Syncthing instances that share one folder over loopback, with file watching on and the
 * watcher delay at its minimum.
 */
export class SyncthingPair {
  private readonly binary: string;
  private readonly root: string;
  private readonly instances: Instance[] = [];

  constructor(binary: string, root: string) {
    this.binary = binary;
    this.root = root;
  }

  get pids(): Array<number | undefined> {
    return this.instances.map((instance) => instance.child?.pid);
  }

  async start(): Promise<void> {
    for (const name of ['source', 'destination']) {
      const home = path.join(this.root, `${name}-home`);
      const folder = path.join(this.root, `${name}-folder`);
      fs.mkdirSync(path.join(folder, '.stfolder'), { recursive: true });
      await runCommand(this.binary, ['generate', `--home=${home}`, '--no-default-folder', '--skip-port-probing'], { STNOUPGRADE: '1' });
      const generated = fs.readFileSync(path.join(home, 'config.xml'), 'utf8');
      const deviceId = /<device id="([A-Z0-9-]+)"/.exec(generated)?.[1];
      if (deviceId === undefined) throw new Error(`syncthing generate wrote no device id into ${home}/config.xml`);
      this.instances.push({ name, home, folder, deviceId, listenPort: await freePort(), guiPort: await freePort(), apiKey: randomBytes(16).toString('hex'), child: null });
    }
    const [source, destination] = this.instances;
    writeConfig(source, destination);
    writeConfig(destination, source);

    for (const instance of this.instances) {
      const log = fs.openSync(path.join(this.root, `${instance.name}.log`), 'a');
      instance.child = spawn(this.binary, ['serve', `--home=${instance.home}`, '--no-browser', '--no-restart', '--no-upgrade', '--logflags=0'], {
        env: { ...process.env, STNOUPGRADE: '1', STNORESTART: '1' },
        stdio: ['ignore', log, log],
      });
    }
    await this.waitUntilConnected(60_000);
  }

  /** Returns the latency in ms of each of `count` files written one at a time. */
  measure(count: number, label: string): Promise<number[]> {
    const [source, destination] = this.instances;
    return measureLatencies(source.folder, destination.folder, count, label, 30_000);
  }

  async stop(): Promise<void> {
    for (const instance of this.instances) if (instance.child !== null) await terminate(instance.child);
  }

  private async rest<T>(instance: Instance, route: string): Promise<T | null> {
    try {
      const response = await fetch(`http://127.0.0.1:${instance.guiPort}${route}`, { headers: { 'X-API-Key': instance.apiKey } });
      return response.ok ? ((await response.json()) as T) : null;
    } catch {
      return null;
    }
  }

  /** Waits until each instance is connected to the other and its folder is idle. */
  private async waitUntilConnected(timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    const [source, destination] = this.instances;
    while (performance.now() < deadline) {
      let ready = true;
      for (const [self, peer] of [[source, destination], [destination, source]]) {
        const connections = await this.rest<{ connections: Record<string, { connected: boolean }> }>(self, '/rest/system/connections');
        const status = await this.rest<{ state: string }>(self, `/rest/db/status?folder=${folderId}`);
        if (connections?.connections[peer.deviceId]?.connected !== true || status?.state !== 'idle') ready = false;
      }
      if (ready) return;
      for (const instance of this.instances) {
        if (instance.child?.exitCode !== null) throw new Error(`syncthing ${instance.name} exited; see ${this.root}/${instance.name}.log`);
      }
      await sleep(200);
    }
    throw new Error(`the two syncthing instances did not connect within ${timeoutMs / 1000} s; see the logs in ${this.root}`);
  }
}
