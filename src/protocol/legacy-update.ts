import type { z } from 'zod';
import { invalidInput } from './errors.ts';
import { parseInput } from './validation.ts';

type Operations = { addConfig: z.ZodType; updateConfig: z.ZodType; deleteConfig: z.ZodType };

/** A parsed legacy `updateConfig` body: exactly one of its three operations. */
export type LegacyUpdate<O extends Operations> = {
  [K in keyof O]: { [P in K]: z.output<O[P]> };
}[keyof O];

/**
 * Parses the legacy `POST /backup/updateConfig` and `POST /sync/updateConfig` bodies, which hold
 * exactly one of `addConfig`, `updateConfig` or `deleteConfig`. The operation is picked before
 * the schema runs, so an error names the field inside it rather than the union.
 */
export function parseLegacyUpdate<O extends Operations>(operations: O, body: unknown): LegacyUpdate<O> {
  const keys = body !== null && typeof body === 'object' && !Array.isArray(body) ? Object.keys(body) : [];
  const known = keys.filter((key): key is keyof O & string => key in operations);
  if (known.length !== 1 || keys.length !== 1) {
    throw invalidInput(`Invalid request body (keys: ${JSON.stringify(keys)}): must hold exactly one of addConfig, updateConfig or deleteConfig`);
  }
  const operation = known[0];
  const value = (body as Record<string, unknown>)[operation];
  const schema = operations[operation] as z.ZodType;
  const parsed = parseInput(schema, value, `request body "${operation}"`);
  return { [operation]: parsed } as LegacyUpdate<O>;
}
