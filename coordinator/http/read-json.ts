import type { Context } from 'hono';
import type { z } from 'zod';
import { invalidInput } from '../../src/protocol/errors.ts';
import { parseInput } from '../../src/protocol/validation.ts';

/** Reads the request body as JSON and validates it with `schema`; malformed JSON is a 400. */
export async function readJson<S extends z.ZodType>(c: Context, schema: S): Promise<z.output<S>> {
  const text = await c.req.text();
  let body: unknown;
  try {
    body = text.trim() === '' ? {} : JSON.parse(text);
  } catch (error) {
    throw invalidInput(`Request body is not valid JSON: ${(error as Error).message}`);
  }
  return parseInput(schema, body, 'request body');
}

/** Reads the raw JSON body without a schema, for handlers that pick the schema themselves. */
export async function readRawJson(c: Context): Promise<unknown> {
  const text = await c.req.text();
  try {
    return text.trim() === '' ? {} : JSON.parse(text);
  } catch (error) {
    throw invalidInput(`Request body is not valid JSON: ${(error as Error).message}`);
  }
}
