import WebSocket from 'ws';
import type { Logger } from '../src/logger.ts';
import {
  agentSocketPath,
  type AgentAction,
  type AgentMessage,
  type ServerMessage,
} from '../src/protocol/actions.ts';
import { backoffDelayMs } from './backoff.ts';

/** Heartbeat interval in ms assumed until the coordinator's `hello` sets one. */
const defaultHeartbeatMs = 30_000;

/** A connection silent for this many heartbeat intervals is treated as dead. */
const silentIntervalsBeforeDead = 3;

/** Maximum number of handled action ids remembered for deduplication. */
const maxRememberedActions = 10_000;

export interface AgentConnectionOptions {
  coordinatorUrl: string;
  token: string;
  resourceId: number;
  logger: Logger;
  /** Runs after each `hello`, that is after every connect and reconnect. */
  onConnected(): void;
  /**
   * Handles one action, which is acknowledged once the promise resolves. A rejected promise leaves
   * it unacknowledged, so that the coordinator sends it again after a reconnect.
   */
  handleAction(actionId: number, action: AgentAction): Promise<void>;
}

/**
 * The agent's websocket to `/agent/ws`. It reconnects with jittered exponential backoff (0.5 s
 * doubling to 30 s) and terminates a connection that sent no message or ping for three heartbeat
 * intervals. Each action is acknowledged after it was handled. An action id is handled at most
 * once per process, so a redelivered id is only acknowledged again once its first handling ends.
 */
export class AgentConnection {
  private readonly options: AgentConnectionOptions;
  private socket: WebSocket | null = null;
  private attempt = 0;
  private heartbeatMs = defaultHeartbeatMs;
  private watchdog: NodeJS.Timeout | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  private connected = false;
  private readonly handled = new Map<number, Promise<void>>();

  constructor(options: AgentConnectionOptions) {
    this.options = options;
  }

  start(): void {
    this.connect();
  }

  /** Closes the socket and stops reconnecting. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.clearWatchdog();
    const socket = this.socket;
    if (socket === null || socket.readyState === WebSocket.CLOSED) return;

    await new Promise<void>((resolve) => {
      const forceClose = setTimeout(() => socket.terminate(), 2000);
      socket.once('close', () => {
        clearTimeout(forceClose);
        resolve();
      });
      socket.close(1000, 'agent stopping');
    });
  }

  private connect(): void {
    const url = socketUrl(this.options.coordinatorUrl);
    const socket = new WebSocket(url, {
      headers: { authorization: `Bearer ${this.options.token}` },
      handshakeTimeout: 15_000,
    });
    this.socket = socket;

    socket.on('open', () => this.resetWatchdog());
    socket.on('ping', () => this.resetWatchdog());
    socket.on('message', (data) => {
      this.resetWatchdog();
      this.receive(data.toString());
    });
    socket.on('error', (error) => {
      this.options.logger.warn(
        { resourceId: this.options.resourceId, err: error },
        'coordinator connection error',
      );
    });
    socket.on('close', (code, reason) => this.closed(socket, code, reason.toString()));
  }

  private receive(text: string): void {
    let message: ServerMessage;
    try {
      message = JSON.parse(text) as ServerMessage;
    } catch {
      this.options.logger.warn(
        { resourceId: this.options.resourceId },
        'coordinator sent a message that is not JSON',
      );
      return;
    }

    if (message.type === 'hello') {
      this.heartbeatMs = message.heartbeatMs > 0 ? message.heartbeatMs : defaultHeartbeatMs;
      this.attempt = 0;
      this.connected = true;
      this.resetWatchdog();
      this.options.logger.info(
        { resourceId: this.options.resourceId, heartbeatMs: this.heartbeatMs },
        'agent connected',
      );
      this.options.onConnected();
      return;
    }
    if (message.type === 'action') this.dispatch(message.id, message.action);
  }

  private dispatch(actionId: number, action: AgentAction): void {
    const earlier = this.handled.get(actionId);
    if (earlier !== undefined) {
      earlier.then(() => this.ack(actionId)).catch(() => undefined);
      return;
    }

    const handling = this.options.handleAction(actionId, action);
    this.remember(actionId, handling);
    handling.then(
      () => this.ack(actionId),
      (error: unknown) => {
        this.handled.delete(actionId);
        this.options.logger.error(
          { resourceId: this.options.resourceId, actionId, kind: action.kind, err: error },
          'action failed; it stays unacknowledged and is sent again after a reconnect',
        );
      },
    );
  }

  private remember(actionId: number, handling: Promise<void>): void {
    this.handled.set(actionId, handling);
    if (this.handled.size <= maxRememberedActions) return;
    const oldest = this.handled.keys().next().value;
    if (oldest !== undefined) this.handled.delete(oldest);
  }

  private ack(actionId: number): void {
    const socket = this.socket;
    if (socket === null || socket.readyState !== WebSocket.OPEN) return;
    const message: AgentMessage = { type: 'ack', id: actionId };
    socket.send(JSON.stringify(message));
  }

  private closed(socket: WebSocket, code: number, reason: string): void {
    if (this.socket !== socket) return;
    this.clearWatchdog();
    this.socket = null;
    const { logger, resourceId } = this.options;
    if (this.connected) logger.info({ resourceId, code, reason }, 'agent disconnected');
    this.connected = false;
    if (this.stopped) return;

    const delayMs = Math.round(backoffDelayMs(this.attempt, 500, 30_000));
    this.attempt += 1;
    logger.info({ resourceId, attempt: this.attempt, delayMs }, 'reconnecting to the coordinator');
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (!this.stopped) this.connect();
    }, delayMs);
  }

  private resetWatchdog(): void {
    this.clearWatchdog();
    const limitMs = this.heartbeatMs * silentIntervalsBeforeDead;
    this.watchdog = setTimeout(() => {
      this.options.logger.warn(
        { resourceId: this.options.resourceId, silentMs: limitMs },
        'coordinator connection silent; terminating it',
      );
      this.socket?.terminate();
    }, limitMs);
  }

  private clearWatchdog(): void {
    if (this.watchdog !== null) clearTimeout(this.watchdog);
    this.watchdog = null;
  }
}

/** Returns the websocket URL of a coordinator: `http(s)://host` becomes `ws(s)://host/agent/ws`. */
export function socketUrl(coordinatorUrl: string): string {
  const url = new URL(agentSocketPath, coordinatorUrl);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.toString();
}
