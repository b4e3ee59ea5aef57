import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Logger } from '../../src/logger.ts';
import { agentSocketPath, type AgentAction, type AgentMessage, type ServerMessage } from '../../src/protocol/actions.ts';

export interface OutgoingAction {
  id: number;
  action: AgentAction;
}

/** Service functions the relay calls, passed in at start. */
export interface RelayHandlers {
  authenticate(token: string): Promise<{ resourceId: number; companyId: number } | null>;
  /** Marks the resource online and returns its unacknowledged actions, oldest first. */
  connected(resourceId: number): Promise<OutgoingAction[]>;
  disconnected(resourceId: number): Promise<void>;
  acked(resourceId: number, actionId: number): Promise<void>;
}

/** An action for one resource, waiting in the relay's send queue. */
export interface Delivery {
  resourceId: number;
  outgoing: OutgoingAction;
}

interface AgentSession {
  resourceId: number;
  socket: WebSocket;
  alive: boolean;
  /** Actions handed over while the backlog was still being sent. */
  held: OutgoingAction[] | null;
  /** Highest action id in the backlog sent at connect. The send queue skips actions up to it. */
  backlogLastId: number;
}

/**
 * Messages sent per event-loop turn while the send queue drains. Between turns the relay reads
 * acknowledgements and the HTTP server serves requests, so a delivery to thousands of agents
 * does not hold the event loop for its whole duration.
 */
const sendsPerTurn = 256;

/**
 * The websocket server that agents keep open. It sends each resource's actions in outbox order,
 * pings every heartbeat interval and drops a connection that missed a pong, so a silent dead
 * connection is marked offline within two intervals. Actions handed over go through one FIFO
 * send queue, which keeps the order of each resource's actions across batches.
 */
export class Relay {
  private readonly sessions = new Map<number, AgentSession>();
  private readonly server = new WebSocketServer({ noServer: true, maxPayload: 1 << 20 });
  private readonly logger: Logger;
  private readonly heartbeatMs: number;
  private handlers: RelayHandlers | null = null;
  private heartbeat: NodeJS.Timeout | null = null;
  /** Actions not sent yet, oldest first from index `queueHead`. Slots already sent are cleared. */
  private readonly queue: (Delivery | undefined)[] = [];
  private queueHead = 0;
  private drainTimer: NodeJS.Immediate | null = null;

  constructor(logger: Logger, heartbeatMs: number) {
    this.logger = logger;
    this.heartbeatMs = heartbeatMs;
  }

  start(httpServer: Server, handlers: RelayHandlers): void {
    this.handlers = handlers;
    httpServer.on('upgrade', (request, socket, head) => {
      this.handleUpgrade(request, socket, head).catch((error: unknown) => {
        this.logger.error({ err: error }, 'websocket upgrade failed');
        socket.destroy();
      });
    });
    this.heartbeat = setInterval(() => this.checkHeartbeats(), this.heartbeatMs);
    this.heartbeat.unref();
  }

  isOnline(resourceId: number): boolean {
    return this.sessions.has(resourceId);
  }

  onlineCount(): number {
    return this.sessions.size;
  }

  /** Sends an action if its agent is connected. Otherwise the action waits in the outbox. */
  deliver(resourceId: number, outgoing: OutgoingAction): void {
    this.deliverMany([{ resourceId, outgoing }]);
  }

  /**
   * Sends actions, in the order given, to the agents that are connected. The others get them from
   * the outbox when they connect. Actions handed over earlier go first. Up to `sendsPerTurn`
   * messages go out at once and the rest in later event-loop turns.
   */
  deliverMany(deliveries: readonly Delivery[]): void {
    for (const delivery of deliveries) this.queue.push(delivery);
    if (this.drainTimer === null) this.drainQueue();
  }

  async close(): Promise<void> {
    if (this.heartbeat) clearInterval(this.heartbeat);
    if (this.drainTimer) clearImmediate(this.drainTimer);
    this.drainTimer = null;
    this.queue.length = 0;
    this.queueHead = 0;
    for (const session of this.sessions.values()) session.socket.close(1001, 'coordinator stopping');
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://localhost');
    if (url.pathname !== agentSocketPath) {
      socket.destroy();
      return;
    }
    const header = request.headers.authorization ?? '';
    const token = header.startsWith('Bearer ') ? header.slice(7) : '';
    const identity = token === '' ? null : await this.handlers!.authenticate(token);
    if (!identity) {
      socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      this.logger.warn({ remote: request.socket.remoteAddress }, 'websocket rejected: invalid resource token');
      return;
    }
    this.server.handleUpgrade(request, socket, head, (ws) => {
      this.open(identity.resourceId, identity.companyId, ws).catch((error: unknown) => {
        this.logger.error({ err: error, resourceId: identity.resourceId }, 'agent session setup failed');
        ws.terminate();
      });
    });
  }

  private async open(resourceId: number, companyId: number, socket: WebSocket): Promise<void> {
    const previous = this.sessions.get(resourceId);
    if (previous) {
      this.sessions.delete(resourceId);
      previous.socket.terminate();
    }

    const session: AgentSession = { resourceId, socket, alive: true, held: [], backlogLastId: 0 };
    this.sessions.set(resourceId, session);
    socket.on('pong', () => (session.alive = true));
    socket.on('message', (data) => this.receive(session, data.toString()));
    socket.on('close', () => this.closed(session));
    socket.on('error', (error) => this.logger.warn({ err: error, resourceId }, 'agent socket error'));

    this.logger.info({ resourceId, companyId }, 'agent connected');
    this.send(session, { type: 'hello', resourceId, heartbeatMs: this.heartbeatMs });
    const backlog = await this.handlers!.connected(resourceId);
    const lastId = backlog.length > 0 ? backlog[backlog.length - 1].id : 0;
    session.backlogLastId = lastId;
    for (const item of backlog) this.send(session, { type: 'action', id: item.id, action: item.action });
    const held = session.held ?? [];
    session.held = null;
    for (const item of held) {
      if (item.id > lastId) this.send(session, { type: 'action', id: item.id, action: item.action });
    }
    if (backlog.length > 0) this.logger.info({ resourceId, actions: backlog.length }, 'outbox backlog sent');
  }

  private receive(session: AgentSession, text: string): void {
    session.alive = true;
    let message: AgentMessage;
    try {
      message = JSON.parse(text) as AgentMessage;
    } catch {
      this.logger.warn({ resourceId: session.resourceId }, 'agent sent a message that is not JSON');
      return;
    }
    if (message.type !== 'ack' || !Number.isInteger(message.id)) return;
    this.handlers!.acked(session.resourceId, message.id).catch((error: unknown) => {
      this.logger.error({ err: error, resourceId: session.resourceId, actionId: message.id }, 'recording ack failed');
    });
  }

  private closed(session: AgentSession): void {
    if (this.sessions.get(session.resourceId) !== session) return;
    this.sessions.delete(session.resourceId);
    this.logger.info({ resourceId: session.resourceId }, 'agent disconnected');
    this.handlers!.disconnected(session.resourceId).catch((error: unknown) => {
      this.logger.error({ err: error, resourceId: session.resourceId }, 'marking resource offline failed');
    });
  }

  /**
   * Sends queued actions until `sendsPerTurn` messages went out and schedules the rest for the
   * next turn. Actions of resources that are not connected are dropped from the queue without
   * counting, because they cost no send.
   */
  private drainQueue(): void {
    this.drainTimer = null;
    let sent = 0;
    while (this.queueHead < this.queue.length && sent < sendsPerTurn) {
      const delivery = this.queue[this.queueHead]!;
      this.queue[this.queueHead] = undefined;
      this.queueHead += 1;
      if (this.sendQueued(delivery)) sent += 1;
    }
    if (this.queueHead < this.queue.length) {
      this.drainTimer = setImmediate(() => this.drainQueue());
      return;
    }
    this.queue.length = 0;
    this.queueHead = 0;
  }

  /**
   * Sends one queued action, or adds it to the session's `held` list while the backlog is being
   * sent. Returns true if the action was sent.
   */
  private sendQueued({ resourceId, outgoing }: Delivery): boolean {
    const session = this.sessions.get(resourceId);
    if (!session) return false;
    if (session.held) {
      session.held.push(outgoing);
      return false;
    }
    // An action stored before the agent connected was already sent with the backlog.
    if (outgoing.id <= session.backlogLastId) return false;
    this.send(session, { type: 'action', id: outgoing.id, action: outgoing.action });
    return true;
  }

  private send(session: AgentSession, message: ServerMessage): void {
    if (session.socket.readyState !== session.socket.OPEN) return;
    session.socket.send(JSON.stringify(message));
  }

  private checkHeartbeats(): void {
    for (const session of this.sessions.values()) {
      if (!session.alive) {
        this.logger.warn({ resourceId: session.resourceId }, 'agent missed a heartbeat; dropping connection');
        session.socket.terminate();
        this.closed(session);
        continue;
      }
      session.alive = false;
      session.socket.ping();
    }
  }
}
