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

interface AgentSession {
  resourceId: number;
  socket: WebSocket;
  alive: boolean;
  /** Actions handed over while the backlog was still being sent. */
  held: OutgoingAction[] | null;
}

/**
 * The websocket server that agents keep open. It sends each resource's actions in outbox order,
 * pings every heartbeat interval and drops a connection that missed a pong, so a silent dead
 * connection is marked offline within two intervals.
 */
export class Relay {
  private readonly sessions = new Map<number, AgentSession>();
  private readonly server = new WebSocketServer({ noServer: true, maxPayload: 1 << 20 });
  private readonly logger: Logger;
  private readonly heartbeatMs: number;
  private handlers: RelayHandlers | null = null;
  private heartbeat: NodeJS.Timeout | null = null;

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

  /** Sends an action now if its agent is connected; otherwise it waits in the outbox. */
  deliver(resourceId: number, outgoing: OutgoingAction): void {
    const session = this.sessions.get(resourceId);
    if (!session) return;
    if (session.held) {
      session.held.push(outgoing);
      return;
    }
    this.send(session, { type: 'action', id: outgoing.id, action: outgoing.action });
  }

  async close(): Promise<void> {
    if (this.heartbeat) clearInterval(this.heartbeat);
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

    const session: AgentSession = { resourceId, socket, alive: true, held: [] };
    this.sessions.set(resourceId, session);
    socket.on('pong', () => (session.alive = true));
    socket.on('message', (data) => this.receive(session, data.toString()));
    socket.on('close', () => this.closed(session));
    socket.on('error', (error) => this.logger.warn({ err: error, resourceId }, 'agent socket error'));

    this.logger.info({ resourceId, companyId }, 'agent connected');
    this.send(session, { type: 'hello', resourceId, heartbeatMs: this.heartbeatMs });
    const backlog = await this.handlers!.connected(resourceId);
    const lastId = backlog.length > 0 ? backlog[backlog.length - 1].id : 0;
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
