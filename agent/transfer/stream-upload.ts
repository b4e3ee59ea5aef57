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
  const target = new URL(url);
  const transport = target.protocol === 'https:' ? https : http;
  const contentLength = filePath === null ? 0 : size;
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

  if (filePath === null || size === 0) {
    request.end();
    return response;
  }
  try {
    await pipeline(createReadStream(filePath, { start: 0, end: size - 1, highWaterMark: 1 << 20 }), request);
  } catch (error) {
    // A server that rejects the upload may respond and close before the body is sent. Its response
    // explains more than the broken pipe does.
    const early = await Promise.race([response, new Promise<null>((resolve) => setTimeout(() => resolve(null), 2000))]).catch(() => null);
    if (early !== null) return early;
    throw error;
  }
  return response;
}
