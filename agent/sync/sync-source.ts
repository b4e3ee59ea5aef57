import fs from 'node:fs/promises';
import path from 'node:path';
import type { AgentSyncConfig } from '../../src/protocol/actions.ts';
import type { SyncEntry } from '../../src/protocol/agent-api.ts';
import type { AgentContext } from '../agent-context.ts';
import { describeError, isNotFound } from '../fs-error-code.ts';
import { uploadFileStream, type StreamUploadResult } from '../transfer/stream-upload.ts';
import { changedDuringRead, hashFile } from '../transfer/hash-file.ts';
import { ConfigWatcher } from '../watcher/config-watcher.ts';
import { entryFromStats, type LocalEntry } from '../watcher/local-entry.ts';
import type { PathChange } from '../watcher/path-change.ts';
import { createPathFilter, type PathFilter } from '../watcher/path-filter.ts';
import { walkTree } from '../watcher/tree-walk.ts';
import { downloadTempPrefix } from './download-file.ts';
import type { SyncRecords } from './sync-records.ts';

/** A file must keep its size and mtime this long before it is sent, so half-written files wait. */
const settleMs = 60;
const concurrency = 4;
/**
 * Contents up to this size are sent with every upload: asking first whether the bucket has them
 * costs a round trip more than sending them. Larger ones are sent only when the bucket lacks them.
 */
const alwaysSentSize = 256 * 1024;

/**
 * The source side of one sync config: it watches the include paths, waits for each changed file
 * to settle, and sends its new state (and content, when the bucket lacks it) to the coordinator.
 * At start it lists the whole tree, so changes made while the agent was away are sent too.
 */
export class SyncSource {
  readonly config: AgentSyncConfig;
  private readonly context: AgentContext;
  private readonly records: SyncRecords;
  private readonly filter: PathFilter;
  private readonly watcher: ConfigWatcher;
  private readonly queued = new Set<string>();
  private readonly sending = new Set<string>();
  private active = 0;
  private readonly scanRequests = new Set<string>();
  private scanTimer: NodeJS.Timeout | null = null;
  private scanning: Promise<void> = Promise.resolve();
  private idleWaiters: (() => void)[] = [];
  private stopped = false;

  constructor(context: AgentContext, records: SyncRecords, config: AgentSyncConfig) {
    this.context = context;
    this.records = records;
    this.config = config;
    this.filter = createPathFilter({ includePaths: config.includePaths, excludePaths: config.excludePaths, alwaysExcluded: context.alwaysExcluded });
    this.watcher = new ConfigWatcher(this.filter, { debounceMs: 20, maxDelayMs: 200 });
    this.watcher.on('changes', (changes) => this.onChanges(changes));
    this.watcher.on('error', (error) => context.logger.debug({ err: error, configId: config.id }, 'sync watcher error'));
  }

  /** Starts watching, then sends everything that differs from the coordinator's view. */
  async start(): Promise<void> {
    await this.watcher.start();
    this.context.logger.info({ configId: this.config.id, paths: this.filter.roots }, 'sync watcher started');
    await this.scan(this.filter.roots);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.scanTimer !== null) clearTimeout(this.scanTimer);
    await this.watcher.close();
    this.context.logger.info({ configId: this.config.id }, 'sync watcher stopped');
  }

  /** Resolves once no path is queued or being sent. */
  async idle(): Promise<void> {
    if (this.queued.size === 0 && this.active === 0) return;
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Sends each changed path. Folder events also rescan the folder above, because the watcher may
   * report a renamed or removed folder without the entries that moved or vanished with it.
   */
  private onChanges(changes: PathChange[]): void {
    for (const change of changes) {
      if (change.kind === 'rescan') this.requestScan(change.path);
      else this.enqueue(change.path);
      if (change.kind === 'addDir' || change.kind === 'unlinkDir') this.requestScan(path.dirname(change.path));
    }
  }

  /** Schedules a scan of `folder` (or of the include root, when `folder` lies above it), merged with others. */
  private requestScan(folder: string): void {
    const root = this.filter.rootOf(folder);
    const target = root === null ? this.filter.roots.find((r) => r.startsWith(`${folder}/`)) : folder;
    if (target === undefined || this.stopped) return;
    this.scanRequests.add(target);
    if (this.scanTimer !== null) return;
    this.scanTimer = setTimeout(() => {
      this.scanTimer = null;
      const folders = [...this.scanRequests];
      this.scanRequests.clear();
      const outermost = folders.filter((f) => !folders.some((other) => other !== f && f.startsWith(`${other}/`)));
      this.scanning = this.scanning
        .then(() => this.scan(outermost))
        .catch((error: unknown) => this.context.logger.warn({ err: error, configId: this.config.id }, 'sync scan failed'));
    }, 100);
  }

  /** Lists the roots that exist and lets the coordinator pick what differs; a missing root deletes nothing. */
  private async scan(requested: readonly string[]): Promise<void> {
    const present: string[] = [];
    const entries: Omit<SyncEntry, 'hash'>[] = [];
    for (const root of await this.existingFolders(requested)) {
      let missing = false;
      for await (const event of walkTree(root, { includes: (p) => this.includes(p) })) {
        if (event.type === 'missing') missing = true;
        if (event.type === 'entry') entries.push(toSyncEntry(event.entry));
        if (event.type === 'unreadable') this.context.logger.warn({ configId: this.config.id, path: event.path, code: event.code }, 'sync source path unreadable');
      }
      if (missing) this.context.logger.warn({ configId: this.config.id, root }, 'sync root missing; nothing under it is deleted');
      else present.push(root);
    }
    const { changed } = await this.context.client.post<{ changed: string[] }>('/agent/sync/scan', { configId: this.config.id, roots: present, entries }, { idempotent: true });
    this.context.logger.info({ configId: this.config.id, entries: entries.length, changed: changed.length }, 'sync scan sent');
    for (const changedPath of changed) this.enqueue(changedPath);
    await this.idle();
  }

  /**
   * Replaces each folder that is gone by its nearest existing folder at or below its include
   * root, so that a scan after `rm -rf a/b/c` lists `a` and the deletion is seen. A folder whose
   * include root is gone is kept as it is: the scan then reports the root missing.
   */
  private async existingFolders(folders: readonly string[]): Promise<string[]> {
    const result = new Set<string>();
    for (const folder of folders) {
      const root = this.filter.rootOf(folder);
      let current = folder;
      while (root !== null && current !== root && !(await fs.lstat(current).then((s) => s.isDirectory(), () => false))) {
        current = path.dirname(current);
      }
      result.add(current);
    }
    const list = [...result];
    return list.filter((f) => !list.some((other) => other !== f && f.startsWith(`${other}/`)));
  }

  private includes(candidate: string): boolean {
    return this.filter.includes(candidate) && !path.basename(candidate).startsWith(downloadTempPrefix);
  }

  private enqueue(changedPath: string): void {
    if (this.stopped || !this.includes(changedPath)) return;
    this.queued.add(changedPath);
    this.pump();
  }

  /** Starts sends up to the concurrency limit; a path already being sent waits for that send. */
  private pump(): void {
    while (this.active < concurrency && !this.stopped) {
      const next = [...this.queued].find((candidate) => !this.sending.has(candidate));
      if (next === undefined) break;
      this.queued.delete(next);
      this.sending.add(next);
      this.active += 1;
      this.send(next)
        .catch((error: unknown) => this.context.logger.warn({ err: error, configId: this.config.id, path: next }, 'sync send failed'))
        .finally(() => {
          this.sending.delete(next);
          this.active -= 1;
          this.pump();
          if (this.queued.size === 0 && this.active === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
        });
    }
  }

  /** Sends the current state of one path, after it settled. */
  private async send(changedPath: string): Promise<void> {
    const entry = await this.settledEntry(changedPath);
    if (entry === 'rootMissing') return;
    if (entry === 'retry') {
      this.enqueue(changedPath);
      return;
    }
    if (entry === null) {
      await this.postEvents([{ path: changedPath, type: 'deleted', hash: null, size: 0, mode: 0, mtimeMs: 0, target: null }]);
      return;
    }
    if (entry.type !== 'file') {
      await this.postEvents([{ ...toSyncEntry(entry), hash: null }]);
      return;
    }
    if (this.records.matches(changedPath, entry.size, entry.mtimeMs)) return;
    await this.sendFile(changedPath);
  }

  /**
   * Returns the entry once its size and mtime held still, null when it is gone, 'retry' when it
   * is still changing, or 'rootMissing' when its include root is gone (which deletes nothing).
   */
  private async settledEntry(changedPath: string): Promise<LocalEntry | null | 'retry' | 'rootMissing'> {
    const first = await fs.lstat(changedPath).catch((error: unknown) => {
      if (isNotFound(error)) return null;
      throw error;
    });
    if (first === null) {
      if (!(await this.rootPresent(changedPath))) return 'rootMissing';
      this.requestScan(path.dirname(changedPath));
      return null;
    }
    if (!first.isFile()) return entryFromStats(changedPath, first);

    const settleLeft = settleMs - (Date.now() - first.mtimeMs);
    if (settleLeft > 0) await new Promise((resolve) => setTimeout(resolve, settleLeft));
    const second = await fs.lstat(changedPath).catch(() => null);
    if (second === null) return (await this.rootPresent(changedPath)) ? null : 'rootMissing';
    if (second.size !== first.size || second.mtimeMs !== first.mtimeMs) return 'retry';
    return entryFromStats(changedPath, second);
  }

  private async rootPresent(changedPath: string): Promise<boolean> {
    const root = this.filter.rootOf(changedPath);
    if (root === null) return false;
    return (await fs.lstat(root).catch(() => null))?.isDirectory() === true;
  }

  private async postEvents(events: SyncEntry[]): Promise<void> {
    if (this.stopped) return;
    await this.context.client.post('/agent/sync/events', { configId: this.config.id, events }, { idempotent: true });
  }

  /** Hashes a file and uploads it, with its content when needed; a file that changed meanwhile is queued again. */
  private async sendFile(filePath: string): Promise<void> {
    const hashed = await hashFile(filePath).catch((error: unknown) => {
      if (isNotFound(error)) return null;
      throw error;
    });
    if (hashed === null) {
      this.enqueue(filePath);
      return;
    }
    if (changedDuringRead(hashed, hashed.size)) {
      this.enqueue(filePath);
      return;
    }

    const query = new URLSearchParams({
      configId: String(this.config.id),
      path: filePath,
      hash: hashed.hash,
      size: String(hashed.size),
      mode: String(hashed.after.mode & 0o7777),
      mtimeMs: String(hashed.after.mtimeMs),
    });
    const withContent = hashed.size <= alwaysSentSize || (await this.bucketLacks(hashed.hash));
    const response = await this.upload(`/uploadv2ForSync?${query}`, withContent ? filePath : null, hashed.size);
    if (response.status >= 300) {
      throw new Error(`Upload of "${filePath}" for sync config ${this.config.id} failed with HTTP ${response.status}: ${response.body.slice(0, 300)}`);
    }
    const after = await fs.lstat(filePath).catch(() => null);
    if (after && (after.size !== hashed.size || after.mtimeMs !== hashed.after.mtimeMs)) this.enqueue(filePath);
  }

  private async bucketLacks(hash: string): Promise<boolean> {
    const { missing } = await this.context.client.post<{ missing: string[] }>('/agent/blobs/missing', { hashes: [hash] }, { idempotent: true });
    return missing.length > 0;
  }

  private async upload(pathAndQuery: string, file: string | null, size: number): Promise<StreamUploadResult> {
    const headers = { authorization: `Bearer ${this.context.token}` };
    try {
      return await uploadFileStream(`${this.context.client.baseUrl}${pathAndQuery}`, 'POST', headers, file, size);
    } catch (error) {
      throw new Error(`Upload to the coordinator failed: ${describeError(error)}`);
    }
  }
}

function toSyncEntry(entry: LocalEntry): SyncEntry {
  return {
    path: entry.path,
    type: entry.type,
    hash: null,
    size: entry.type === 'file' ? entry.size : 0,
    mode: entry.mode,
    mtimeMs: entry.mtimeMs,
    target: entry.target ?? null,
  };
}
