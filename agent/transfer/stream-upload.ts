import { createReadStream } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { pipeline } from 'node:stream/promises';

export interface StreamUploadResult {
  status: number;
  body: string;
}

/**
 * Sends the first `size` bytes of a file as a request body with node:http, which writes only as
 * fast as the socket drains. fetch is not used for large bodies because undici on Node 20 reads a
 * stream body ahead of the socket, so memory grew with the file's size.
 */
export async function uploadFileStream(
  url: string,
  method: 'PUT' | 'POST',
  headers: Record<string, string>,
  filePath: string | null,
  size: number,
  signal?: AbortSignal,
): Promise<StreamUploadResult> {
  const contentLength = filePath === null ? 0 : size;
  const { request, response } = openRequest(url, method, headers, contentLength, signal);
  if (filePath === null || size === 0) {
    request.end();
    return response;
  }
  try {
    await pipeline(createReadStream(filePath, { start: 0, end: size - 1, highWaterMark: 1 << 20 }), request);
  } catch (error) {
    return earlyResponseOr(response, error);
  }
  return response;
}

/**
 * Sends bytes in memory as a request body with node:http. Unlike fetch, which copies a buffer
 * body into a stream of its own, this writes the caller's buffer to the socket as it is.
 */
export async function uploadBuffer(
  url: string,
  method: 'PUT' | 'POST',
  headers: Record<string, string>,
  bytes: Uint8Array,
  signal?: AbortSignal,
): Promise<StreamUploadResult> {
  const { request, response } = openRequest(url, method, headers, bytes.length, signal);
  try {
    await new Promise<void>((resolve, reject) => {
      request.once('error', reject);
      request.end(bytes, () => resolve());
    });
  } catch (error) {
    return earlyResponseOr(response, error);
  }
  return response;
}

function openRequest(
  url: string,
  method: 'PUT' | 'POST',
  headers: Record<string, string>,
  contentLength: number,
  signal: AbortSignal | undefined,
): { request: http.ClientRequest; response: Promise<StreamUploadResult> } {
  const target = new URL(url);
  const transport = target.protocol === 'https:' ? https : http;
  const request = transport.request(target, {
    method,
    headers: { ...headers, 'content-type': 'application/octet-stream', 'content-length': String(contentLength) },
    signal,
  });
  const response = new Promise<StreamUploadResult>((resolve, reject) => {
    request.on('response', (incoming) => {
      const chunks: Buffer[] = [];
      incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
      incoming.on('end', () => resolve({ status: incoming.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      incoming.on('error', reject);
    });
    request.on('error', reject);
  });
  // Awaited by the caller unless sending the body failed first; this keeps a rejection from
  // counting as unhandled meanwhile.
  response.catch(() => undefined);
  return { request, response };
}

/**
 * Returns the server's response when one arrives within 2 s of a failed send, else throws the
 * send's error. A server that rejects an upload may respond and close before the body is sent,
 * and its response explains more than the broken pipe does.
 */
async function earlyResponseOr(response: Promise<StreamUploadResult>, error: unknown): Promise<StreamUploadResult> {
  const early = await Promise.race([response, new Promise<null>((resolve) => setTimeout(() => resolve(null), 2000))]).catch(() => null);
  if (early !== null) return early;
  throw error;
}
