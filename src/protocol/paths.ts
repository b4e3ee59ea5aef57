import path from 'node:path';
import { z } from 'zod';

/** An absolute, normalized local path without a trailing slash (except the root itself). */
export const absolutePathSchema = z
  .string()
  .min(1, 'must not be empty; give an absolute path such as /home/alex/Documents')
  .refine((value) => !value.includes('\0'), 'must not contain a NUL byte')
  .refine((value) => path.posix.isAbsolute(value), 'must be an absolute path starting with "/"')
  .transform((value) => normalizeAbsolute(value));

export function normalizeAbsolute(value: string): string {
  const normalized = path.posix.normalize(value);
  return normalized.length > 1 && normalized.endsWith('/') ? normalized.slice(0, -1) : normalized;
}

/** True when `child` is `parent` itself or lies below it. Both must be normalized absolute paths. */
export function isSameOrInside(parent: string, child: string): boolean {
  if (parent === child) return true;
  const prefix = parent.endsWith('/') ? parent : `${parent}/`;
  return child.startsWith(prefix);
}

/**
 * Maps the absolute path `original` into `targetRoot`, so that `/data/a.txt` under `/restore`
 * becomes `/restore/data/a.txt`. Returns null when the result would escape `targetRoot`.
 */
export function joinUnderRoot(targetRoot: string, original: string): string | null {
  if (original.includes('\0')) return null;
  const segments = original.split('/').filter((segment) => segment !== '' && segment !== '.');
  if (segments.some((segment) => segment === '..')) return null;

  const root = path.resolve(targetRoot);
  const joined = path.join(root, ...segments);
  return isSameOrInside(root, joined) ? joined : null;
}
