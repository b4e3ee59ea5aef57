import { createCipheriv, createHash, type Cipher } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/** Shape of one generated tree. Files are spread evenly over `folders` leaf folders. */
export interface TreeSpec {
  name: string;
  files: number;
  /** Leaf folders, laid out as `d000/s000`: about sqrt(folders) top folders of sqrt(folders) each. */
  folders: number;
  minBytes: number;
  maxBytes: number;
}

/** A generated tree on disk. */
export interface Tree {
  spec: TreeSpec;
  root: string;
  files: number;
  bytes: number;
  /** Relative paths of every file, in generation order. */
  paths: string[];
}


/**
 * Seeded random bytes: AES-256-CTR over zeros, keyed by SHA-256 of the seed and a label. The
 * output is incompressible and the same on every machine for the same seed and label.
 */
export class SeededBytes {
  private readonly cipher: Cipher;
  private readonly zeros = Buffer.alloc(1 << 20);

  constructor(seed: string, label: string) {
    const key = createHash('sha256').update(`${seed}/${label}`).digest();
    this.cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  }

  next(length: number): Buffer {
    if (length <= this.zeros.length) return this.cipher.update(this.zeros.subarray(0, length));
    const parts: Buffer[] = [];
    for (let left = length; left > 0; left -= this.zeros.length) {
      parts.push(this.cipher.update(this.zeros.subarray(0, Math.min(left, this.zeros.length))));
    }
    return Buffer.concat(parts);
  }

  /** A uniformly distributed integer in [min, max]. */
  nextInt(min: number, max: number): number {
    return min + (this.next(4).readUInt32LE(0) % (max - min + 1));
  }
}

function leafFolders(count: number): string[] {
  const perTop = Math.max(1, Math.round(Math.sqrt(count)));
  const folders: string[] = [];
  for (let index = 0; index < count; index += 1) {
    const top = Math.floor(index / perTop);
    folders.push(path.join(`d${String(top).padStart(3, '0')}`, `s${String(index % perTop).padStart(3, '0')}`));
  }
  return folders;
}

function plannedPaths(spec: TreeSpec): string[] {
  const folders = leafFolders(spec.folders);
  const paths: string[] = [];
  for (let index = 0; index < spec.files; index += 1) {
    paths.push(path.join(folders[index % folders.length], `f${String(index).padStart(6, '0')}.bin`));
  }
  return paths;
}

/**
 * Returns the tree at `parent/spec.name`, generating it first unless a complete tree of the same
 * spec and seed is there. A tree that is incomplete or of another spec is removed and written again.
 */
export function ensureTree(parent: string, spec: TreeSpec, seed: string, log: (line: string) => void): Tree {
  const root = path.join(parent, spec.name);
  // The marker lies beside the tree, so the tools under test do not see it.
  const marker = `${root}.json`;
  const wanted = JSON.stringify({ spec, seed });
  const paths = plannedPaths(spec);
  const existing = fs.existsSync(marker) ? fs.readFileSync(marker, 'utf8') : null;
  if (existing !== null) {
    const stored = JSON.parse(existing) as { spec: TreeSpec; seed: string; bytes: number };
    if (JSON.stringify({ spec: stored.spec, seed: stored.seed }) === wanted) {
      return { spec, root, files: spec.files, bytes: stored.bytes, paths };
    }
  }

  fs.rmSync(root, { recursive: true, force: true });
  fs.rmSync(marker, { force: true });
  log(`generating ${spec.name}: ${spec.files} files of ${spec.minBytes}-${spec.maxBytes} bytes in ${spec.folders} folders`);
  const random = new SeededBytes(seed, spec.name);
  let bytes = 0;
  const created = new Set<string>();
  for (const relative of paths) {
    const folder = path.join(root, path.dirname(relative));
    if (!created.has(folder)) {
      fs.mkdirSync(folder, { recursive: true });
      created.add(folder);
    }
    const size = random.nextInt(spec.minBytes, spec.maxBytes);
    fs.writeFileSync(path.join(root, relative), random.next(size));
    bytes += size;
  }
  fs.writeFileSync(marker, JSON.stringify({ spec, seed, bytes }));
  return { spec, root, files: spec.files, bytes, paths };
}
