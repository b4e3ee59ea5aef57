import type { z } from 'zod';
import { formatFieldPath } from '../src/protocol/validation.ts';

/**
 * Describes the first invalid field of a JSON file: its name, its value and the rule it breaks.
 * The value of a field in `secretFields` is left out, so a token or secret never reaches a
 * message or a log line.
 */
export function describeInvalidField(
  input: unknown,
  error: z.ZodError,
  secretFields: readonly string[],
): string {
  const issue = error.issues[0];
  const field = formatFieldPath(issue.path);
  if (field === '') return `its content is invalid: ${issue.message}`;

  const value =
    typeof input === 'object' && input !== null
      ? (input as Record<string, unknown>)[String(issue.path[0])]
      : undefined;
  const shown = secretFields.includes(field)
    ? ''
    : ` (value: ${value === undefined ? 'missing' : JSON.stringify(value)})`;
  return `its field "${field}"${shown} is invalid: ${issue.message}`;
}
