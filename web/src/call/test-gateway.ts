/**
 * A small in-process stand-in for the gateway's WebSocket endpoint, speaking the real
 * ws.proto JSON (through the generated schemas), for the signaling client's unit tests:
 * hello → welcome, resume with the resume token, ping → pong, signal relay between sessions
 * with the sender stamped by the server, leave, and the failure modes a test needs to cause.
 */
import { create, fromJson, type JsonValue, toJson } from '@bufbuild/protobuf';
import { type ClientMessage, ClientMessageSchema, type Hello, type ServerMessage, ServerMessageSchema } from '@lessoncall/proto';
import type { MessageInitShape } from '@bufbuild/protobuf';
import { type WebSocket, WebSocketServer } from 'ws';

export interface TestSession {
  sessionId: string;
  resumeToken: string;
  socket: WebSocket | undefined;
  hellos: Hello[];
}

export interface TestGatewayOptions {
  passcode?: string;
  /** Answer pings (false simulates a half-open connection). */
  answerPings?: boolean;
  /** Errors to answer the next hellos with, in order (code, extra fields). */
  rejectHellos?: { code: string; attemptsLeft?: number; retryAfterSeconds?: number }[];
  /** Refuse every resume (as after the presence grace period). */
  refuseResume?: boolean;
}

export class TestGateway {
  readonly wss: WebSocketServer;
  readonly sessions = new Map<string, TestSession>();
  readonly received: ClientMessage[] = [];
  readonly connections: WebSocket[] = [];
  private next = 1;

  private constructor(
    wss: WebSocketServer,
    readonly options: TestGatewayOptions,
  ) {
    this.wss = wss;
    wss.on('connection', (ws) => this.onConnection(ws));
  }

  static async start(options: TestGatewayOptions = {}): Promise<TestGateway> {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
    return new TestGateway(wss, { answerPings: true, passcode: '123456', ...options });
  }

  get url(): string {
    const a = this.wss.address();
    if (!a || typeof a === 'string') throw new Error('not listening');
    return `ws://127.0.0.1:${a.port}/api/video/ws`;
  }

  send(ws: WebSocket, msg: MessageInitShape<typeof ServerMessageSchema>) {
    ws.send(JSON.stringify(toJson(ServerMessageSchema, create(ServerMessageSchema, msg))));
  }

  /** Kills every socket of a session without a close handshake (a dropped network). */
  drop(sessionId: string) {
    this.sessions.get(sessionId)?.socket?.terminate();
  }

  async stop() {
    for (const c of this.wss.clients) c.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }

  private onConnection(ws: WebSocket) {
    this.connections.push(ws);
    let session: TestSession | undefined;
    ws.on('message', (data) => {
      const msg = fromJson(ClientMessageSchema, JSON.parse(String(data)) as JsonValue);
      this.received.push(msg);
      const requestId = msg.requestId;
      switch (msg.kind.case) {
        case 'hello': {
          const hello = msg.kind.value;
          const reject = this.options.rejectHellos?.shift();
          if (reject) {
            this.send(ws, { requestId, kind: { case: 'error', value: { message: reject.code, ...reject } } });
            return;
          }
          if (hello.passcode !== this.options.passcode) {
            this.send(ws, { requestId, kind: { case: 'error', value: { code: 'passcode_invalid', message: 'wrong passcode', attemptsLeft: 4 } } });
            return;
          }
          let resumed = false;
          if (hello.resumeSessionId) {
            const s = this.sessions.get(hello.resumeSessionId);
            if (this.options.refuseResume || !s || s.resumeToken !== hello.resumeToken) {
              this.send(ws, { requestId, kind: { case: 'error', value: { code: 'resume_rejected', message: 'cannot resume' } } });
              return;
            }
            session = s;
            resumed = true;
          } else {
            const id = `sess-${String(this.next++).padStart(4, '0')}`;
            session = { sessionId: id, resumeToken: `tok-${id}-${Math.random()}`, socket: undefined, hellos: [] };
            this.sessions.set(id, session);
          }
          session.socket = ws;
          session.hellos.push(hello);
          this.send(ws, {
            requestId,
            kind: {
              case: 'welcome',
              value: { sessionId: session.sessionId, resumeToken: session.resumeToken, userType: 'student', resumed, iceTtlSeconds: 3600 },
            },
          });
          return;
        }
        case 'ping':
          if (this.options.answerPings) this.send(ws, { requestId, kind: { case: 'pong', value: { sentAtMs: msg.kind.value.sentAtMs } } });
          return;
        case 'signal': {
          if (!session) return;
          const to = this.sessions.get(msg.kind.value.toSessionId);
          if (to?.socket) {
            this.send(to.socket, { kind: { case: 'signal', value: { fromSessionId: session.sessionId, signal: msg.kind.value.signal } } });
          }
          return;
        }
        case 'leave':
          if (session) this.sessions.delete(session.sessionId);
          ws.close(1000, 'left');
          return;
        default:
          return;
      }
    });
  }

  /** Received messages of one kind. */
  receivedOf<K extends NonNullable<ClientMessage['kind']['case']>>(kind: K) {
    return this.received.filter((m) => m.kind.case === kind) as (ClientMessage & { kind: { case: K } })[];
  }
}

export type { ServerMessage };
