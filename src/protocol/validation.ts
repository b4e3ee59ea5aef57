import type { z } from 'zod';
import { invalidInput } from './errors.ts';

/** Formats a zod path as `pathDetails.includePaths[0]`. */
export function formatFieldPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out;
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let current: unknown = input;
  for (const part of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<PropertyKey, unknown>)[part];
  }
  return current;
}

/** Fields whose values never appear in an error message, which may reach a log. */
const secretField = /password|secret|token/i;

function describeValue(value: unknown): string {
  if (value === undefined) return 'missing';
  const text = JSON.stringify(value);
  if (text === undefined) return String(value);
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

/**
 * Parses `input` with `schema` or throws an invalidInput error that names the first offending
 * field, its value and the rule it breaks. `subject` prefixes the field, e.g. "request body".
 */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown, subject: string): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;

  const issue = result.error.issues[0];
  const field = formatFieldPath(issue.path);
  const secret = issue.path.some((part) => typeof part === 'string' && secretField.test(part));
  const value = secret ? '[redacted]' : describeValue(valueAt(input, issue.path));
  const where = field === '' ? subject : `${subject} field "${field}"`;
  throw invalidInput(`Invalid ${where} (value: ${value}): ${issue.message}`);
}
