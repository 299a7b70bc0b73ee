import { decode, toJson } from '@lessoncall/kit';
import { ClientMessageSchema, type Hello, type ServerMessage, ServerMessageSchema } from '@lessoncall/proto';
import type { MessageInitShape } from '@bufbuild/protobuf';
import { WebSocket } from 'ws';
import type { TestGateway, TestMeeting } from './helpers';

export type ClientInit = MessageInitShape<typeof ClientMessageSchema>;
type Case = NonNullable<ServerMessage['kind']['case']>;
export type Of<C extends Case> = Extract<ServerMessage['kind'], { case: C }>['value'];
export type Reply<C extends Case> = Of<C> & { requestId: string };

export interface Closed {
  code: number;
  reason: string;
}

/**
 * A client of /api/video/ws as the web app speaks it: proto3 JSON frames, every server
 * message parsed with the proto schema (so a test also checks the gateway speaks the contract).
 */
export class WsClient {
  readonly ws: WebSocket;
  readonly received: ServerMessage[] = [];
  readonly closed: Promise<Closed>;
  #listeners = new Map<string, (m: ServerMessage) => void>();
  #waiters: Array<{ match: (m: ServerMessage) => boolean; resolve: (m: ServerMessage) => void }> = [];

  private constructor(ws: WebSocket) {
    this.ws = ws;
    this.closed = new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    ws.on('message', (data) => {
      const m = decode(ServerMessageSchema, data.toString());
      const listener = m.kind.case ? this.#listeners.get(m.kind.case) : undefined;
      if (listener) {
        listener(m);
        return;
      }
      this.received.push(m);
      const i = this.#waiters.findIndex((w) => w.match(m));
      if (i >= 0) {
        const [w] = this.#waiters.splice(i, 1);
        w?.resolve(m);
      }
    });
  }

  /** `meeting`: the URL's routing key, as the web app sends it (the ingress hashes it). */
  static open(url: string, options: { origin?: string; headers?: Record<string, string>; meeting?: string } = {}): Promise<WsClient> {
    const query = options.meeting === undefined ? '' : `?meeting=${encodeURIComponent(options.meeting)}`;
    const ws = new WebSocket(`${url}/api/video/ws${query}`, { origin: options.origin, headers: options.headers, autoPong: true });
    ws.on('error', () => {});
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(new WsClient(ws)));
      ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
      ws.once('error', reject);
    });
  }

  send(message: ClientInit): void {
    this.ws.send(toJson(ClientMessageSchema, message));
  }

  raw(data: string | Buffer, binary = false): void {
    this.ws.send(data, { binary });
  }

  /** Every message of this kind goes to `listener` from now on, instead of the queue. */
  listen<C extends Case>(kind: C, listener: (value: Of<C>, m: ServerMessage) => void): void {
    this.#listeners.set(kind, (m) => listener(m.kind.value as Of<C>, m));
  }

  /** The next message not yet taken that matches, waiting for it if need be. */
  take(match: (m: ServerMessage) => boolean, timeoutMs = 5_000, what = 'message'): Promise<ServerMessage> {
    const i = this.received.findIndex(match);
    if (i >= 0) return Promise.resolve(this.received.splice(i, 1)[0] as ServerMessage);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w.resolve !== done);
        reject(new Error(`no ${what} within ${timeoutMs} ms; got: ${this.received.map((m) => m.kind.case).join(', ') || 'nothing'}`));
      }, timeoutMs);
      const done = (m: ServerMessage) => {
        clearTimeout(timer);
        const j = this.received.indexOf(m);
        if (j >= 0) this.received.splice(j, 1);
        resolve(m);
      };
      this.#waiters.push({ match, resolve: done });
    });
  }

  async next<C extends Case>(kind: C, match: (v: Of<C>, m: ServerMessage) => boolean = () => true, timeoutMs = 5_000): Promise<Reply<C>> {
    const m = await this.take((x) => x.kind.case === kind && match(x.kind.value as Of<C>, x), timeoutMs, kind);
    return Object.assign(m.kind.value as object, { requestId: m.requestId }) as unknown as Reply<C>;
  }

  error(code?: string, timeoutMs?: number) {
    return this.next('error', (e) => code === undefined || e.code === code, timeoutMs);
  }

  async hello(hello: Partial<Omit<Hello, '$typeName'>>, requestId = 'hello'): Promise<Of<'welcome'>> {
    this.send({ requestId, kind: { case: 'hello', value: hello } });
    const reply = await this.take((m) => m.kind.case === 'welcome' || (m.kind.case === 'error' && m.requestId === requestId), 10_000, 'welcome');
    if (reply.kind.case === 'error') throw new HelloError(reply.kind.value.code, reply.kind.value.message);
    return reply.kind.value as Of<'welcome'>;
  }

  /** Messages of a kind received and not yet taken. */
  pending(kind: Case): ServerMessage[] {
    return this.received.filter((m) => m.kind.case === kind);
  }

  close(): void {
    this.ws.close();
  }
}

export class HelloError extends Error {
  override readonly name = 'HelloError';
  readonly code: string;
  constructor(code: string, message: string) {
    super(`hello failed: ${code} ${message}`);
    this.code = code;
  }
}

/**
 * A socket on `gw` (or `via`, another gateway of the same stack) that said hello as the
 * meeting's tutor or student, with its passcode (a resume when given), after the chat history
 * that follows every welcome.
 */
export async function joinAs(
  gw: TestGateway,
  m: TestMeeting,
  who: 'tutor' | 'student',
  opts: { audioMuted?: boolean; resume?: { sessionId: string; resumeToken: string }; via?: TestGateway } = {},
) {
  const c = await WsClient.open((opts.via ?? gw).wsUrl, { meeting: m.meetingId });
  const userId = who === 'tutor' ? m.tutorId : m.studentId;
  try {
    const welcome = await c.hello({
      accessToken: await gw.tokenFor(userId),
      meetingId: m.meetingId,
      passcode: m.passcode,
      displayName: who,
      audioMuted: opts.audioMuted ?? false,
      ...(opts.resume ? { resumeSessionId: opts.resume.sessionId, resumeToken: opts.resume.resumeToken } : {}),
    });
    const history = await c.next('chatHistory');
    return { c, welcome, userId, history, sessionId: welcome.sessionId };
  } catch (err) {
    c.close();
    throw err;
  }
}
