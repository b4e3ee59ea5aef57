import fs from 'node:fs/promises';
import path from 'node:path';

/** The size, mtime and hash a sync last wrote at a path, to tell a later local edit apart. */
export interface WrittenFile {
  size: number;
  mtimeMs: number;
  hash: string | null;
}

/**
 * The files this agent wrote for syncs, by absolute path, kept in `<state>/sync-written.json`.
 * A destination uses it to tell a local edit (a conflict) from its own copy, and a source uses
 * it to skip files that a sync just wrote, so a destination does not echo them back.
 */
export class SyncRecords {
  private readonly file: string;
  private readonly written = new Map<string, WrittenFile>();
  private saveTimer: NodeJS.Timeout | null = null;
  private saving: Promise<void> = Promise.resolve();

  constructor(stateDir: string) {
    this.file = path.join(stateDir, 'sync-written.json');
  }

  async load(): Promise<void> {
    try {
      const data = JSON.parse(await fs.readFile(this.file, 'utf8')) as Record<string, WrittenFile>;
      for (const [filePath, record] of Object.entries(data)) this.written.set(filePath, record);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }

  get(filePath: string): WrittenFile | undefined {
    return this.written.get(filePath);
  }

  set(filePath: string, record: WrittenFile): void {
    this.written.set(filePath, record);
    this.scheduleSave();
  }

  delete(filePath: string): void {
    if (this.written.delete(filePath)) this.scheduleSave();
  }

  /** True when the file at `filePath` is still exactly what a sync wrote there. */
  matches(filePath: string, size: number, mtimeMs: number): boolean {
    const record = this.written.get(filePath);
    return record !== undefined && record.size === size && Math.abs(record.mtimeMs - mtimeMs) < 1;
  }

  async flush(): Promise<void> {
    if (this.saveTimer) {
      clearTimeout(this.saveTimer);
      this.saveTimer = null;
      this.saving = this.saving.then(() => this.save());
    }
    await this.saving;
  }

  private scheduleSave(): void {
    if (this.saveTimer) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = null;
      this.saving = this.saving.then(() => this.save()).catch(() => undefined);
    }, 200);
    this.saveTimer.unref();
  }

  private async save(): Promise<void> {
    const temp = `${this.file}.tmp`;
    await fs.writeFile(temp, JSON.stringify(Object.fromEntries(this.written)), { mode: 0o600 });
    await fs.rename(temp, this.file);
  }
}
