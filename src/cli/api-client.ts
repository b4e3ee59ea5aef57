import { uploadFileStream } from '../../agent/transfer/stream-upload.ts';
import { SyncctlError, isErrorCode } from '../protocol/errors.ts';

/** A JSON client for the coordinator's HTTP API that turns error bodies into SyncctlErrors. */
export class ApiClient {
  readonly server: string;
  private readonly token: string | null;

  constructor(server: string, token: string | null) {
    this.server = server.replace(/\/+$/, '');
    this.token = token;
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    return this.parse<T>(await this.send(method, path, body), `${method} ${path}`);
  }

  /** Reads a JSON response, throwing the error its body names when the status is not 2xx. */
  async parse<T>(response: Response, what: string): Promise<T> {
    const text = await response.text();
    const data = text === '' ? null : parseJson(text, what);
    if (!response.ok) throw toError(response.status, data, what);
    return data as T;
  }

  /** POSTs a file as the request body, streamed as fast as the socket drains. */
  async uploadFile(path: string, file: string, size: number): Promise<Response> {
    const headers: Record<string, string> = {};
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    try {
      const result = await uploadFileStream(`${this.server}${path}`, 'POST', headers, file, size);
      return new Response(result.body, { status: result.status });
    } catch (error) {
      const cause = describeCause(error);
      throw new SyncctlError('unavailable', `Cannot reach the coordinator at ${this.server} (${cause}); start it with "syncctl coordinator start" or pass --server`);
    }
  }

  async send(method: string, path: string, body?: unknown): Promise<Response> {
    const headers: Record<string, string> = {};
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    try {
      return await fetch(`${this.server}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (error) {
      const cause = describeCause(error);
      throw new SyncctlError('unavailable', `Cannot reach the coordinator at ${this.server} (${cause}); start it with "syncctl coordinator start" or pass --server`);
    }
  }
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new SyncctlError('internal', `${what} returned a body that is not JSON: ${text.slice(0, 200)}`);
  }
}

function toError(status: number, data: unknown, what: string): SyncctlError {
  const error = (data as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  if (error && isErrorCode(error.code) && typeof error.message === 'string') return new SyncctlError(error.code, error.message);
  return new SyncctlError(status >= 500 ? 'internal' : 'invalidInput', `${what} failed with HTTP ${status}`);
}

/** Returns the system error behind a failed fetch, such as ECONNREFUSED, for a message. */
function describeCause(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string; errors?: { code?: string }[] } }).cause;
  return cause?.code ?? cause?.errors?.[0]?.code ?? cause?.message ?? (error as Error).message;
}
