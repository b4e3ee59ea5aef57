import { Readable } from 'node:stream';
import { Hono } from 'hono';
import { invalidInput } from '../../../src/protocol/errors.ts';
import type { SignedTransferStore, ByteRange } from '../../store/object-store.ts';
import type { AppEnv } from '../app-env.ts';

function parseRange(header: string | undefined): ByteRange | undefined {
  if (!header) return undefined;
  const match = /^bytes=(\d+)-(\d*)$/.exec(header.trim());
  if (!match) throw invalidInput(`Range header "${header}" is not supported; send one range "bytes=START-END"`);
  return { start: Number(match[1]), end: match[2] === '' ? Number.MAX_SAFE_INTEGER : Number(match[2]) };
}

/**
 * The local store's signed-URL endpoint: `PUT` streams a body into an object, `GET` streams an
 * object (or one byte range of it) out. Each request must carry a valid, unexpired signature.
 */
export function storeRoutes(store: SignedTransferStore): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();

  routes.on(['GET', 'PUT'], '/store/:bucket/*', async (c) => {
    const bucket = c.req.param('bucket');
    const key = decodeURIComponent(c.req.path.slice(`/store/${bucket}/`.length));
    const operation = c.req.method === 'PUT' ? 'put' : 'get';
    if (c.req.query('op') !== operation) throw invalidInput(`Signed URL is for "${c.req.query('op')}", not ${c.req.method}`);
    store.verifySignature(bucket, key, operation, c.req.query('expires') ?? '', c.req.query('sig') ?? '');

    if (operation === 'put') {
      const body = c.req.raw.body ? Readable.fromWeb(c.req.raw.body as import('node:stream/web').ReadableStream) : Readable.from([]);
      const { size } = await store.writeStream(bucket, key, body);
      return c.json({ key, size }, 201);
    }

    const range = parseRange(c.req.header('range'));
    const { stream, size, totalSize } = await store.readStream(bucket, key, range);
    const headers: Record<string, string> = { 'Content-Type': 'application/octet-stream', 'Content-Length': String(size) };
    if (range) headers['Content-Range'] = `bytes ${range.start}-${range.start + size - 1}/${totalSize}`;
    return new Response(Readable.toWeb(stream) as ReadableStream, { status: range ? 206 : 200, headers });
  });

  return routes;
}
