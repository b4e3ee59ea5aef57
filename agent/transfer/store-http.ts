import { SyncctlError } from '../../src/protocol/errors.ts';
import type { Readable } from 'node:stream';
import { downloadBuffer, openDownload, readText } from './buffer-download.ts';
import { uploadBuffer, uploadFileStream } from './stream-upload.ts';
import { backoffDelayMs, sleep } from '../backoff.ts';
import { describeFetchFailure, errorFromResponse } from '../coordinator-client.ts';

/**
 * A failed request to a signed store URL. `httpStatus` is null when no response arrived. Messages
 * name the bucket key (the `key` argument of each function), never the URL, because a signed URL
 * grants access until it expires.
 */
export class StoreRequestError extends SyncctlError {
  readonly httpStatus: number | null;

  constructor(code: SyncctlError['code'], message: string, httpStatus: number | null) {
    super(code, message);
    this.name = 'StoreRequestError';
    this.httpStatus = httpStatus;
  }

  /**
   * True for a 4xx response: the store rejected the request, so repeating it unchanged fails again.
   */
  get rejected(): boolean {
    return this.httpStatus !== null && this.httpStatus >= 400 && this.httpStatus < 500;
  }
}

const maxAttempts = 4;

/** Maximum time in ms for a request whose body is in memory (at most a pack of about 8 MiB). */
const bufferedTimeoutMs = 5 * 60_000;

/**
 * Uploads bytes in memory to a signed PUT URL, retrying after connection errors and 5xx responses.
 */
export async function putBytes(
  url: string,
  key: string,
  bytes: Buffer,
  signal?: AbortSignal,
): Promise<void> {
  const response = await fetchWithRetry('PUT', key, signal, bufferedTimeoutMs, async (attemptSignal) => {
    const result = await uploadBuffer(url, 'PUT', {}, bytes, attemptSignal);
    return new Response(result.body, { status: result.status });
  });
  await response.body?.cancel();
}

/**
 * Streams the first `size` bytes of a file to a signed PUT URL without holding them in memory,
 * with `size` as the Content-Length. Each attempt reads the file anew, so a retry after a lost
 * connection sends whatever the file contains then. A content-addressed key makes the store reject
 * bytes that do not match its hash, and callers of other keys must not change the file meanwhile.
 *
 * NOTE: streamed requests have no timeout of their own, so a connection that stalls without
 * closing blocks the run until `signal` aborts.
 */
export async function putFile(
  url: string,
  key: string,
  filePath: string,
  size: number,
  signal?: AbortSignal,
): Promise<void> {
  const response = await fetchWithRetry('PUT', key, signal, null, async (attemptSignal) => {
    const result = await uploadFileStream(url, 'PUT', {}, filePath, size, attemptSignal);
    return new Response(result.body, { status: result.status });
  });
  await response.body?.cancel();
}

/** Downloads a whole object into memory. Callers use it only for objects of a few MiB (packs). */
export async function getBytes(url: string, key: string, signal?: AbortSignal): Promise<Buffer> {
  let bytes: Buffer | null = null;
  const response = await fetchWithRetry('GET', key, signal, bufferedTimeoutMs, async (attemptSignal) => {
    const result = await downloadBuffer(url, attemptSignal);
    if (result.status < 200 || result.status >= 300) {
      return new Response(result.body.toString('utf8'), { status: result.status });
    }
    bytes = result.body;
    return new Response(null, { status: result.status });
  });
  await response.body?.cancel();
  return bytes!;
}

/**
 * Starts a download and returns the response body, which the caller streams. It is read with
 * node:http, because a fetch body read through `Readable.fromWeb` arrives in small chunks whose
 * garbage collection took a third of the agent's CPU time while restoring large files.
 */
export async function getStream(url: string, key: string, signal?: AbortSignal): Promise<Readable> {
  let body: Readable | null = null;
  const response = await fetchWithRetry('GET', key, signal, null, async (attemptSignal) => {
    const incoming = await openDownload(url, attemptSignal);
    const status = incoming.statusCode ?? 0;
    if (status < 200 || status >= 300) return new Response(await readText(incoming), { status });
    body = incoming;
    return new Response(null, { status });
  });
  await response.body?.cancel();
  return body!;
}

type Attempt = (signal: AbortSignal) => Promise<Response>;

async function fetchWithRetry(
  method: string,
  key: string,
  signal: AbortSignal | undefined,
  timeoutMs: number | null,
  attempt: Attempt,
): Promise<Response> {
  for (let index = 0; ; index += 1) {
    try {
      return await fetchOnce(method, key, signal, timeoutMs, attempt);
    } catch (error) {
      const retryable = error instanceof StoreRequestError && !error.rejected;
      if (signal?.aborted || !retryable || index + 1 >= maxAttempts) throw error;
      await sleep(backoffDelayMs(index, 500, 8000), signal);
    }
  }
}

async function fetchOnce(
  method: string,
  key: string,
  signal: AbortSignal | undefined,
  timeoutMs: number | null,
  attempt: Attempt,
): Promise<Response> {
  const signals = [signal, timeoutMs === null ? undefined : AbortSignal.timeout(timeoutMs)];
  const present = signals.filter((item): item is AbortSignal => item !== undefined);
  let response: Response;
  try {
    response = await attempt(AbortSignal.any(present));
  } catch (error) {
    if (signal?.aborted) throw error;
    const reason = describeFetchFailure(error);
    throw new StoreRequestError('unavailable', `${method} of ${key} failed: ${reason}`, null);
  }
  if (response.ok) return response;

  const mapped = await errorFromResponse(method, key, response);
  throw new StoreRequestError(mapped.code, mapped.message, response.status);
}
