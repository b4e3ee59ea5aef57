import http from 'node:http';
import https from 'node:https';

export interface BufferDownloadResult {
  status: number;
  body: Buffer;
}

/**
 * Downloads a response body into one buffer with node:http. With a Content-Length the buffer is
 * allocated once at that size and the chunks are copied straight into it, where fetch's
 * `arrayBuffer()` collects them first and then copies the whole body again.
 */
export function downloadBuffer(url: string, signal?: AbortSignal): Promise<BufferDownloadResult> {
  const target = new URL(url);
  const transport = target.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const request = transport.get(target, { signal }, (incoming) => {
      const declared = Number(incoming.headers['content-length']);
      const collector = Number.isSafeInteger(declared) && declared >= 0 ? new SizedCollector(declared) : new ChunkCollector();
      incoming.on('data', (chunk: Buffer) => collector.add(chunk));
      incoming.on('end', () => resolve({ status: incoming.statusCode ?? 0, body: collector.result() }));
      incoming.on('error', reject);
    });
    request.on('error', reject);
  });
}

interface Collector {
  add(chunk: Buffer): void;
  result(): Buffer;
}

class SizedCollector implements Collector {
  private readonly buffer: Buffer;
  private length = 0;
  private overflow: Buffer[] | null = null;

  constructor(size: number) {
    this.buffer = Buffer.allocUnsafe(size);
  }

  add(chunk: Buffer): void {
    if (this.overflow === null && this.length + chunk.length <= this.buffer.length) {
      chunk.copy(this.buffer, this.length);
      this.length += chunk.length;
      return;
    }
    // More bytes than the Content-Length: keep them, so the caller's length check reports it.
    this.overflow ??= [];
    this.overflow.push(chunk);
  }

  result(): Buffer {
    const received = this.buffer.subarray(0, this.length);
    return this.overflow === null ? received : Buffer.concat([received, ...this.overflow]);
  }
}

class ChunkCollector implements Collector {
  private readonly chunks: Buffer[] = [];

  add(chunk: Buffer): void {
    this.chunks.push(chunk);
  }

  result(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

/**
 * Starts a GET with node:http and resolves with the response once its headers arrive. The body
 * is not read, so the caller streams it or, for an error status, reads the message.
 */
export function openDownload(url: string, signal?: AbortSignal): Promise<http.IncomingMessage> {
  const target = new URL(url);
  const transport = target.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const request = transport.get(target, { signal }, resolve);
    request.on('error', reject);
  });
}

/** Reads a whole response body as UTF-8 text, such as the message of an error response. */
export async function readText(incoming: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of incoming) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
