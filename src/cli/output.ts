/** Prints a command's result: one JSON document with --json, else the human text. */
export function printResult(json: boolean, data: unknown, human: () => string): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(data, null, 2)}\n`);
    return;
  }
  const text = human();
  if (text !== '') process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** Formats rows as aligned columns under a header. */
export function formatTable(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((row) => row.map(String))];
  const widths = header.map((_, column) => Math.max(...cells.map((row) => (row[column] ?? '').length)));
  return cells.map((row) => row.map((cell, column) => cell.padEnd(widths[column])).join('  ').trimEnd()).join('\n');
}

/** A one-line progress display, redrawn in place, shown only on a terminal and never with --json. */
export class ProgressLine {
  private readonly enabled: boolean;
  private readonly startedAt = Date.now();
  private drawn = false;

  constructor(json: boolean) {
    this.enabled = !json && process.stderr.isTTY === true;
  }

  /** True when the line is drawn: on a terminal, without `--json`. */
  get visible(): boolean {
    return this.enabled;
  }

  update(files: number, bytes: number): void {
    if (!this.enabled) return;
    const seconds = Math.max((Date.now() - this.startedAt) / 1000, 0.001);
    const rate = formatBytes(Math.round(bytes / seconds));
    process.stderr.write(`\r\x1b[K${files} files, ${formatBytes(bytes)}, ${rate}/s`);
    this.drawn = true;
  }

  done(): void {
    if (this.enabled && this.drawn) process.stderr.write('\r\x1b[K');
  }
}
