import picomatch from 'picomatch';
import { isSameOrInside, normalizeAbsolute } from '../../src/protocol/paths.ts';

/** The include roots and exclude globs of one backup config, as predicates over absolute paths. */
export interface PathFilter {
  /** The include paths, normalized and sorted, without any path that lies inside another one. */
  readonly roots: readonly string[];
  /** Returns the include root at or above `absolutePath`, or null when no root contains it. */
  rootOf(absolutePath: string): string | null;
  /**
   * True when the path lies at or below an include root and neither it nor a folder above it is
   * excluded.
   */
  includes(absolutePath: string): boolean;
}

export interface PathFilterOptions {
  includePaths: readonly string[];
  /**
   * Glob patterns. A pattern without "/" matches the name of any path segment below an include
   * root (`*.tmp`, `node_modules`). A pattern with "/" matches the absolute path of the entry or
   * of a folder above it (`/home/alex/.cache`, `/var/log/*.gz`).
   */
  excludePaths: readonly string[];
  /** Absolute paths never backed up or watched, such as the agent's own state folder. */
  alwaysExcluded?: readonly string[];
}

type Matcher = (value: string) => boolean;

/** Builds the filter of one config. Globs match dot files too, so `*.tmp` matches `.a.txt.tmp`. */
export function createPathFilter(options: PathFilterOptions): PathFilter {
  const roots = minimalRoots(options.includePaths);
  const nameMatchers: Matcher[] = [];
  const pathMatchers: Matcher[] = [];
  for (const pattern of options.excludePaths) {
    const matcher = picomatch(pattern, { dot: true });
    if (pattern.includes('/')) pathMatchers.push(matcher);
    else nameMatchers.push(matcher);
  }
  const alwaysExcluded = (options.alwaysExcluded ?? []).map(normalizeAbsolute);

  function rootOf(absolutePath: string): string | null {
    return roots.find((root) => isSameOrInside(root, absolutePath)) ?? null;
  }

  const hasPatterns = nameMatchers.length > 0 || pathMatchers.length > 0;

  function includes(absolutePath: string): boolean {
    const root = rootOf(absolutePath);
    if (root === null) return false;
    if (alwaysExcluded.some((excluded) => isSameOrInside(excluded, absolutePath))) return false;
    if (!hasPatterns) return true;

    const below = absolutePath
      .slice(root.length)
      .split('/')
      .filter((segment) => segment !== '');
    if (below.some((name) => nameMatchers.some((matches) => matches(name)))) return false;

    let current = root;
    if (pathMatchers.some((matches) => matches(current))) return false;
    for (const name of below) {
      current = current === '/' ? `/${name}` : `${current}/${name}`;
      if (pathMatchers.some((matches) => matches(current))) return false;
    }
    return true;
  }

  return { roots, rootOf, includes };
}

function minimalRoots(includePaths: readonly string[]): string[] {
  const sorted = [...new Set(includePaths.map(normalizeAbsolute))].sort();
  const roots: string[] = [];
  for (const candidate of sorted) {
    if (!roots.some((root) => isSameOrInside(root, candidate))) roots.push(candidate);
  }
  return roots;
}
