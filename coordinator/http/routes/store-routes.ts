import { pipeline } from 'node:stream/promises';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
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

    // Bodies move between the node:http streams and the store directly. Converting them to web
    // streams and back, as Request and Response bodies, cost more CPU than the transfer itself.
    if (operation === 'put') {
      const { size } = await store.writeStream(bucket, key, c.env.incoming);
      return c.json({ key, size }, 201);
    }

    const range = parseRange(c.req.header('range'));
    const { stream, size, totalSize } = await store.readStream(bucket, key, range);
    const headers: Record<string, string> = { 'Content-Type': 'application/octet-stream', 'Content-Length': String(size) };
    if (range) headers['Content-Range'] = `bytes ${range.start}-${range.start + size - 1}/${totalSize}`;
    const { outgoing } = c.env;
    outgoing.writeHead(range ? 206 : 200, headers);
    // The status is sent already, so a failure here, such as a client that disconnected, can
    // only be logged.
    await pipeline(stream, outgoing).catch((error: unknown) =>
      c.get('deps').logger.warn({ err: error, bucket, key }, 'store download ended early'),
    );
    return RESPONSE_ALREADY_SENT;
  });

  return routes;
}
