import type { SignedUrls } from '../../src/protocol/agent-api.ts';
import type { CoordinatorClient } from '../coordinator-client.ts';

/**
 * Maximum keys per `POST /agent/urls` request that this agent sends (the coordinator accepts more
 * GETs).
 */
const maxKeysPerRequest = 1000;

/** Returns a signed PUT URL for one bucket key, valid for 15 minutes. */
export async function signPutUrl(
  client: CoordinatorClient,
  key: string,
  signal?: AbortSignal,
): Promise<string> {
  const urls = await client.post<SignedUrls>(
    '/agent/urls',
    { put: [key], get: [] },
    { idempotent: true, signal },
  );
  return requireUrl(urls.put, key, 'PUT');
}

/** Returns signed GET URLs for bucket keys, valid for 15 minutes, requested in chunks. */
export async function signGetUrls(
  client: CoordinatorClient,
  keys: readonly string[],
  signal?: AbortSignal,
): Promise<Map<string, string>> {
  const result = new Map<string, string>();
  for (let start = 0; start < keys.length; start += maxKeysPerRequest) {
    const chunk = keys.slice(start, start + maxKeysPerRequest);
    const urls = await client.post<SignedUrls>(
      '/agent/urls',
      { put: [], get: chunk },
      { idempotent: true, signal },
    );
    for (const key of chunk) result.set(key, requireUrl(urls.get, key, 'GET'));
  }
  return result;
}

function requireUrl(urls: Record<string, string> | undefined, key: string, method: string): string {
  const url = urls?.[key];
  if (typeof url !== 'string') {
    throw new Error(
      `Internal error: POST /agent/urls returned no ${method} URL for bucket key ${key}.`,
    );
  }
  return url;
}
