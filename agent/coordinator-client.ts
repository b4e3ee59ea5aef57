import { SyncctlError, isErrorCode, type ErrorCode } from '../src/protocol/errors.ts';
import { backoffDelayMs, sleep } from './backoff.ts';
import { fsErrorCode } from './fs-error-code.ts';

export interface CoordinatorClientOptions {
  /** The coordinator's base URL, such as `http://127.0.0.1:8080`. */
  baseUrl: string;
  /** The resource token, sent as `Authorization: Bearer`. Absent only for enrollment. */
  token?: string;
  /** Maximum time in ms for one request, response body included. */
  timeoutMs?: number;
  /** Maximum number of attempts of a retried request. */
  maxAttempts?: number;
  /** Receives each retry before its wait, so that the caller can log it. */
  onRetry?: (retry: RetryInfo) => void;
}

/** One retry of a request: what failed and how long the client waits before the next attempt. */
export interface RetryInfo {
  method: string;
  path: string;
  /** Number of the failed attempt, starting at 1. */
  attempt: number;
  delayMs: number;
  /** The HTTP status, or the failure such as "ECONNREFUSED" when no response arrived. */
  reason: string;
}

export interface RequestOptions {
  /**
   * True when repeating the request cannot do harm, so it is retried after any connection
   * error, timeout or 502/503/504. Other requests are retried only when the connection was
   * refused, because then the coordinator never saw them.
   */
  idempotent?: boolean;
  /** Aborts the request and any wait between attempts. */
  signal?: AbortSignal;
  /** Maximum number of attempts of this request, instead of the client's default. */
  maxAttempts?: number;
}

const retriedStatuses = new Set([502, 503, 504]);

/**
 * The agent's JSON client of the coordinator's REST API. Error responses of the form
 * `{error: {code, message}}` become SyncctlErrors with that code.
 */
export class CoordinatorClient {
  readonly baseUrl: string;
  private readonly token: string | undefined;
  private readonly timeoutMs: number;
  private readonly maxAttempts: number;
  private readonly onRetry: (retry: RetryInfo) => void;

  constructor(options: CoordinatorClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.token = options.token;
    this.timeoutMs = options.timeoutMs ?? 60_000;
    this.maxAttempts = options.maxAttempts ?? 5;
    this.onRetry = options.onRetry ?? (() => undefined);
  }

  async get<T>(path: string, options: RequestOptions = {}): Promise<T> {
    return this.request<T>('GET', path, undefined, { idempotent: true, ...options });
  }

  async post<T>(path: string, body: unknown, options: RequestOptions = {}): Promise<T> {
    return this.request<T>('POST', path, body, options);
  }

  /**
   * Sends one request, retrying as `options.idempotent` allows, and returns the parsed JSON body.
   */
  async request<T>(
    method: string,
    path: string,
    body: unknown,
    options: RequestOptions,
  ): Promise<T> {
    for (let attempt = 0; ; attempt += 1) {
      const isLastAttempt = attempt + 1 >= (options.maxAttempts ?? this.maxAttempts);
      let response: Response;
      try {
        response = await this.send(method, path, body, options.signal);
      } catch (error) {
        if (options.signal?.aborted) throw error;
        if (isLastAttempt || !canRetryFailure(error, options.idempotent === true)) {
          throw this.unreachable(method, path, error);
        }
        await this.waitBeforeRetry(method, path, attempt, describeFetchFailure(error), options);
        continue;
      }

      if (response.ok) return (await readJson(response)) as T;
      if (!isLastAttempt && options.idempotent === true && retriedStatuses.has(response.status)) {
        await response.body?.cancel();
        await this.waitBeforeRetry(method, path, attempt, `HTTP ${response.status}`, options);
        continue;
      }
      throw await errorFromResponse(method, path, response);
    }
  }

  private async waitBeforeRetry(
    method: string,
    path: string,
    attempt: number,
    reason: string,
    options: RequestOptions,
  ): Promise<void> {
    const delayMs = Math.round(backoffDelayMs(attempt, 500, 8000));
    this.onRetry({ method, path, attempt: attempt + 1, delayMs, reason });
    await sleep(delayMs, options.signal);
  }

  private async send(
    method: string,
    path: string,
    body: unknown,
    signal?: AbortSignal,
  ): Promise<Response> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.token !== undefined) headers.authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';

    const timeout = AbortSignal.timeout(this.timeoutMs);
    return fetch(`${this.baseUrl}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: signal === undefined ? timeout : AbortSignal.any([signal, timeout]),
    });
  }

  private unreachable(method: string, path: string, error: unknown): SyncctlError {
    const reason = describeFetchFailure(error);
    return new SyncctlError(
      'unavailable',
      `Coordinator request ${method} ${path} to ${this.baseUrl} failed: ${reason}. Check that the coordinator is running at that URL.`,
    );
  }
}

/** Returns the system error code behind a failed fetch (`ECONNREFUSED`, ...), if any. */
export function fetchFailureCode(error: unknown): string | undefined {
  if (error instanceof Error && error.name === 'TimeoutError') return 'ETIMEDOUT';
  const cause = error instanceof Error ? (error as Error & { cause?: unknown }).cause : undefined;
  return fsErrorCode(cause) ?? fsErrorCode(error);
}

function canRetryFailure(error: unknown, idempotent: boolean): boolean {
  if (!(error instanceof Error)) return false;
  const code = fetchFailureCode(error);
  if (code === 'ECONNREFUSED') return true;
  return idempotent && (error instanceof TypeError || error.name === 'TimeoutError');
}

/** Returns a short reason for a failed fetch, such as "ECONNREFUSED" or "timed out". */
export function describeFetchFailure(error: unknown): string {
  const code = fetchFailureCode(error);
  if (code === 'ETIMEDOUT') return 'timed out';
  if (code !== undefined) return code;
  return error instanceof Error ? error.message : String(error);
}

async function readJson(response: Response): Promise<unknown> {
  const text = await response.text();
  if (text === '') return undefined;
  return JSON.parse(text) as unknown;
}

/** Maps an error response to a SyncctlError, using the body's code when it has one. */
export async function errorFromResponse(
  method: string,
  path: string,
  response: Response,
): Promise<SyncctlError> {
  const text = await response.text().catch(() => '');
  try {
    const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
    const code = body.error?.code;
    const message = body.error?.message;
    if (isErrorCode(code) && typeof message === 'string') return new SyncctlError(code, message);
  } catch {
    // Not a JSON error body; the status and text are reported below.
  }
  const excerpt = text.length > 200 ? `${text.slice(0, 200)}...` : text;
  return new SyncctlError(
    codeOfStatus(response.status),
    `${method} ${path} failed with HTTP ${response.status}${excerpt === '' ? '' : `: ${excerpt}`}`,
  );
}

function codeOfStatus(status: number): ErrorCode {
  if (status === 400) return 'invalidInput';
  if (status === 401) return 'unauthenticated';
  if (status === 403) return 'forbidden';
  if (status === 404) return 'notFound';
  if (status === 409) return 'conflict';
  if (status === 502 || status === 503 || status === 504) return 'unavailable';
  return 'internal';
}
