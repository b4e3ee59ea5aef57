import { expect } from 'vitest';
import { errorCodes, type ErrorBody } from '../../src/protocol/errors.ts';

export interface ApiRequest {
  /** Sent as `Authorization: Bearer TOKEN`. */
  token?: string;
  /** Sent as the `Cookie` header as is, for example `syncctl_session=...`. */
  cookie?: string;
  /** Serialized as the JSON body. */
  json?: unknown;
  /** Sent as the body as is, with `Content-Type: application/json`: for malformed JSON. */
  rawBody?: string;
}

export interface ApiResponse<T = any> {
  status: number;
  headers: Headers;
  text: string;
  /** The parsed JSON body, or undefined when the body is not JSON. */
  body: T;
}

/** Sends one HTTP request to the coordinator at `baseUrl`. */
export async function api<T = any>(
  baseUrl: string,
  method: string,
  path: string,
  request: ApiRequest = {},
): Promise<ApiResponse<T>> {
  const headers: Record<string, string> = {};
  if (request.token) headers.authorization = `Bearer ${request.token}`;
  if (request.cookie) headers.cookie = request.cookie;

  let body: string | undefined;
  if (request.rawBody !== undefined) body = request.rawBody;
  else if (request.json !== undefined) body = JSON.stringify(request.json);
  if (body !== undefined) headers['content-type'] = 'application/json';

  const response = await fetch(new URL(path, baseUrl), { method, headers, body });
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: response.status, headers: response.headers, text, body: parsed as T };
}

const codeOfStatus = new Map<number, string>(Object.entries(errorCodes).map(([code, { status }]) => [status, code]));

/**
 * Asserts that `response` is an error of `status` with the `{error: {code, message}}` body whose
 * code belongs to that status. Returns the message.
 */
export function expectApiError(response: ApiResponse, status: number): string {
  const context = `${response.status} ${response.text}`;
  expect(response.status, context).toBe(status);

  const body = response.body as ErrorBody | undefined;
  expect(body?.error?.code, context).toBe(codeOfStatus.get(status));
  expect(typeof body?.error?.message, context).toBe('string');
  expect(body!.error.message.length, context).toBeGreaterThan(0);
  return body!.error.message;
}

/** Asserts a 2xx status and returns the body. */
export function expectApiSuccess<T = any>(response: ApiResponse<T>): T {
  expect(response.status, `${response.status} ${response.text}`).toBeGreaterThanOrEqual(200);
  expect(response.status, `${response.status} ${response.text}`).toBeLessThan(300);
  return response.body;
}
