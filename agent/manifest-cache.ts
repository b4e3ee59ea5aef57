import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { openManifestFile } from './transfer/manifest-file.ts';

/**
 * The local cache of the last committed manifest of each config, in `<stateDir>/manifests/`, so
 * that a reconcile or an incremental run needs no download. It also manages the agent's scratch
 * folder `<stateDir>/tmp/`.
 */
export class ManifestCache {
  private readonly manifestFolder: string;
  private readonly temporaryFolder: string;

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
    await fs.rm(this.pathOf(configId), { force: true });
  }

  private pathOf(configId: number): string {
    return path.join(this.manifestFolder, `config-${configId}.ndjson.gz`);
  }
}
