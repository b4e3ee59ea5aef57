import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { ManifestEntry } from '../src/protocol/manifest.ts';
import { openManifestFile } from './transfer/manifest-file.ts';

/**
 * Maximum entries of the last snapshots kept in memory, over all configs. An entry takes an
 * estimated 400 bytes, so this bounds the memory to about 20 MB. A config with more entries reads its
 * manifest file at each run instead.
 */
const maxRememberedEntries = 50_000;

/**
 * The local cache of the last committed manifest of each config, in `<stateDir>/manifests/`, so
 * that a reconcile or an incremental run needs no download. It also manages the agent's scratch
 * folder `<stateDir>/tmp/`. The entries of recent snapshots are also kept in memory, within
 * `maxRememberedEntries`.
 */
export class ManifestCache {
  private readonly manifestFolder: string;
  private readonly temporaryFolder: string;
  private readonly remembered = new Map<number, { snapshotId: number; entries: ReadonlyMap<string, ManifestEntry> }>();

  constructor(stateDir: string) {
    this.manifestFolder = path.join(stateDir, 'manifests');
    this.temporaryFolder = path.join(stateDir, 'tmp');
  }

  /** Creates the folders and removes scratch files that an earlier process left behind. */
  async prepare(): Promise<void> {
    await fs.rm(this.temporaryFolder, { recursive: true, force: true });
    await fs.mkdir(this.temporaryFolder, { recursive: true, mode: 0o700 });
    await fs.mkdir(this.manifestFolder, { recursive: true, mode: 0o700 });
  }

  /** Returns a new path in the scratch folder; nothing is created there. */
  temporaryPath(label: string): string {
    return path.join(this.temporaryFolder, `${label}-${randomBytes(6).toString('hex')}`);
  }

  /** Returns the cached manifest of the config when it is the one of `snapshotId`, else null. */
  async find(configId: number, snapshotId: number): Promise<string | null> {
    const filePath = this.pathOf(configId);
    let reader;
    try {
      reader = await openManifestFile(filePath);
    } catch {
      // A missing or damaged cache file only means that the manifest is downloaded again.
      return null;
    }
    reader.close();
    const { header } = reader;
    return header.configId === configId && header.snapshotId === snapshotId ? filePath : null;
  }

  /** Moves a manifest file (in the same file system, such as the scratch folder) into the cache. */
  async store(configId: number, manifestPath: string): Promise<void> {
    await fs.rename(manifestPath, this.pathOf(configId));
  }

  async remove(configId: number): Promise<void> {
    this.remembered.delete(configId);
    await fs.rm(this.pathOf(configId), { force: true });
  }

  /**
   * Keeps the entries of a config's newest committed snapshot in memory, in place of the ones
   * kept before. Callers must not change the map afterwards. Configs remembered longest ago are
   * dropped while the total exceeds `maxRememberedEntries`.
   */
  remember(configId: number, snapshotId: number, entries: ReadonlyMap<string, ManifestEntry>): void {
    this.remembered.delete(configId);
    if (entries.size > maxRememberedEntries) return;
    this.remembered.set(configId, { snapshotId, entries });
    let total = 0;
    for (const item of this.remembered.values()) total += item.entries.size;
    for (const [oldest, item] of this.remembered) {
      if (total <= maxRememberedEntries) break;
      this.remembered.delete(oldest);
      total -= item.entries.size;
    }
  }

  /** Returns the remembered entries of the config when they are those of `snapshotId`, else null. */
  recall(configId: number, snapshotId: number): ReadonlyMap<string, ManifestEntry> | null {
    const item = this.remembered.get(configId);
    return item !== undefined && item.snapshotId === snapshotId ? item.entries : null;
  }

  private pathOf(configId: number): string {
    return path.join(this.manifestFolder, `config-${configId}.ndjson.gz`);
  }
}
