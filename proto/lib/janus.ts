/**
 * Janus's JSON API over WebSocket, for Node (`ws`) and the browser alike: the media service's
 * Admin API client, the tests' and the benchmark's `@roamhq/wrtc` peers, and the web client's
 * sfu mode all speak it through this one module. The socket is made by a factory, so nothing
 * here needs Node or the DOM.
 */

/** What this module needs of a WebSocket (the browser's and `ws` both have it). */
export interface JanusWebSocket {
  readonly readyState: number;
  send(data: string): void;
  close(): void;
  onopen: ((e: unknown) => void) | null;
  onmessage: ((e: { data: unknown }) => void) | null;
  onclose: ((e: unknown) => void) | null;
  onerror: ((e: unknown) => void) | null;
}

export type JanusWebSocketFactory = (url: string, protocol: 'janus-protocol' | 'janus-admin-protocol') => JanusWebSocket;

const OPEN = 1;

/** The browser's WebSocket, when there is one. */
const defaultFactory: JanusWebSocketFactory = (url, protocol) => {
  const W = (globalThis as { WebSocket?: new (url: string, protocol: string) => JanusWebSocket }).WebSocket;
  if (!W) throw new Error('no WebSocket here: pass a factory (e.g. one making a `ws` WebSocket)');
  return new W(url, protocol);
};

function transactionId(): string {
  return `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 12)}`;
}

/** An error Janus answered (`{"janus":"error","error":{code,reason}}`) or a plugin's `error_code`. */
export class JanusError extends Error {
  override readonly name = 'JanusError';
  readonly code: number;
  constructor(code: number, reason: string, options?: ErrorOptions) {
    super(`janus error ${code}: ${reason}`, options);
    this.code = code;
  }
}

/** The node did not answer: closed socket, refused connection, or no reply in time. */
export class JanusUnavailableError extends Error {
  override readonly name = 'JanusUnavailableError';
  readonly url: string;
  constructor(url: string, message: string, options?: ErrorOptions) {
    super(`janus at ${url}: ${message}`, options);
    this.url = url;
  }
}

/** Janus error codes the services handle (janus/apierror.h and the VideoRoom plugin's). */
export const janusCodes = {
  unauthorized: 403,
  videoroomUnauthorized: 433,
  videoroomNoSuchRoom: 426,
  videoroomRoomExists: 427,
  videoroomIdExists: 436,
  videoroomNoSuchFeed: 428,
} as const;

type Json = Record<string, unknown>;

interface Pending {
  resolve: (msg: Json) => void;
  reject: (err: Error) => void;
  timer: ReturnType<typeof setTimeout>;
  /** An `ack` is not the answer (asynchronous plugin requests); wait for the event. */
  skipAck: boolean;
}

/**
 * One WebSocket to a Janus node, with transactions matched to replies. Janus's two WebSocket
 * APIs differ only in the subprotocol: `janus-protocol` (the Janus API) and
 * `janus-admin-protocol` (the Admin API). Messages without a known transaction (events pushed
 * to a session) go to `onEvent`.
 */
export class JanusSocket {
  readonly url: string;
  readonly #protocol: 'janus-protocol' | 'janus-admin-protocol';
  readonly #timeoutMs: number;
  readonly #factory: JanusWebSocketFactory;
  #ws: JanusWebSocket | undefined;
  #opening: Promise<JanusWebSocket> | undefined;
  readonly #pending = new Map<string, Pending>();
  onEvent: (msg: Json) => void = () => {};
  onClose: () => void = () => {};

  constructor(url: string, protocol: 'janus-protocol' | 'janus-admin-protocol', timeoutMs: number, factory: JanusWebSocketFactory = defaultFactory) {
    this.url = url;
    this.#protocol = protocol;
    this.#timeoutMs = timeoutMs;
    this.#factory = factory;
  }

  get open(): boolean {
    return this.#ws?.readyState === OPEN;
  }

  #connect(): Promise<JanusWebSocket> {
    if (this.#ws && this.#ws.readyState === OPEN) return Promise.resolve(this.#ws);
    this.#opening ??= new Promise<JanusWebSocket>((resolve, reject) => {
      let settled = false;
      const ws = this.#factory(this.url, this.#protocol);
      const timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        this.#opening = undefined;
        ws.close();
        reject(new JanusUnavailableError(this.url, `no connection in ${this.#timeoutMs} ms`));
      }, this.#timeoutMs);
      ws.onerror = () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.#opening = undefined;
        reject(new JanusUnavailableError(this.url, 'cannot connect'));
      };
      ws.onopen = () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.#ws = ws;
        this.#opening = undefined;
        resolve(ws);
      };
      ws.onmessage = (e) => this.#receive(String(e.data));
      ws.onclose = () => {
        if (!settled) {
          settled = true;
          clearTimeout(timer);
          this.#opening = undefined;
          reject(new JanusUnavailableError(this.url, 'connection closed'));
        }
        if (this.#ws === ws) this.#ws = undefined;
        for (const [tx, p] of this.#pending) {
          clearTimeout(p.timer);
          p.reject(new JanusUnavailableError(this.url, 'connection closed'));
          this.#pending.delete(tx);
        }
        this.onClose();
      };
    });
    return this.#opening;
  }

  #receive(text: string): void {
    let msg: Json;
    try {
      msg = JSON.parse(text) as Json;
    } catch {
      return;
    }
    const tx = typeof msg.transaction === 'string' ? msg.transaction : undefined;
    const p = tx ? this.#pending.get(tx) : undefined;
    if (!p || !tx) {
      this.onEvent(msg);
      return;
    }
    if (msg.janus === 'ack' && p.skipAck) return;
    this.#pending.delete(tx);
    clearTimeout(p.timer);
    if (msg.janus === 'error') {
      const e = (msg.error ?? {}) as { code?: number; reason?: string };
      p.reject(new JanusError(e.code ?? 0, e.reason ?? 'unknown error'));
      return;
    }
    p.resolve(msg);
  }

  /** Sends one request and resolves with its reply (for an asynchronous plugin request: the event after the ack). */
  async request(body: Json, options: { skipAck?: boolean; timeoutMs?: number } = {}): Promise<Json> {
    const ws = await this.#connect();
    const transaction = transactionId();
    return new Promise<Json>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(transaction);
        reject(new JanusUnavailableError(this.url, `no answer to ${String(body.janus)} in ${options.timeoutMs ?? this.#timeoutMs} ms`));
      }, options.timeoutMs ?? this.#timeoutMs);
      this.#pending.set(transaction, { resolve, reject, timer, skipAck: options.skipAck ?? false });
      try {
        ws.send(JSON.stringify({ ...body, transaction }));
      } catch (err) {
        clearTimeout(timer);
        this.#pending.delete(transaction);
        reject(new JanusUnavailableError(this.url, (err as Error).message, { cause: err }));
      }
    });
  }

  close(): void {
    this.#ws?.close();
    this.#ws = undefined;
  }
}

export interface Jsep {
  type: 'offer' | 'answer';
  sdp: string;
}

export interface PluginReply {
  data: Json;
  jsep?: Jsep;
}

/**
 * A client of the Janus API (`janus-protocol`): one session, plugin handles on it, keepalives.
 * What a participant's side does — the tests' and the benchmark's `@roamhq/wrtc` peers use it;
 * the browser speaks the same JSON. Every request carries the session's signed token.
 */
export class JanusClient {
  readonly #socket: JanusSocket;
  readonly #token: string;
  #sessionId: number | undefined;
  #keepalive: ReturnType<typeof setInterval> | undefined;
  readonly #handlers = new Map<number, (event: PluginReply & { janus: string }) => void>();
  #closed = false;
  onClose: () => void = () => {};

  constructor(url: string, token: string, options: { timeoutMs?: number; factory?: JanusWebSocketFactory } = {}) {
    this.#socket = new JanusSocket(url, 'janus-protocol', options.timeoutMs ?? 5_000, options.factory);
    this.#token = token;
    this.#socket.onEvent = (msg) => {
      const handle = typeof msg.sender === 'number' ? msg.sender : undefined;
      const fn = handle === undefined ? undefined : this.#handlers.get(handle);
      const plugindata = (msg.plugindata ?? {}) as { data?: Json };
      fn?.({ janus: String(msg.janus), data: plugindata.data ?? {}, ...(msg.jsep ? { jsep: msg.jsep as Jsep } : {}) });
    };
    this.#socket.onClose = () => {
      clearInterval(this.#keepalive);
      if (!this.#closed) this.onClose();
    };
  }

  get sessionId(): number | undefined {
    return this.#sessionId;
  }

  async connect(): Promise<this> {
    const r = await this.#socket.request({ janus: 'create', token: this.#token });
    this.#sessionId = Number((r.data as Json).id);
    this.#keepalive = setInterval(() => {
      this.#socket.request({ janus: 'keepalive', session_id: this.#sessionId, token: this.#token }).catch(() => {});
    }, 20_000);
    (this.#keepalive as { unref?: () => void }).unref?.();
    return this;
  }

  /** A handle on a plugin; `onEvent` gets what the plugin pushes later (new publishers, leaves, kicks). */
  async attach(plugin: string, onEvent: (event: PluginReply & { janus: string }) => void = () => {}): Promise<JanusHandle> {
    const r = await this.#socket.request({ janus: 'attach', session_id: this.#sessionId, plugin, token: this.#token });
    const id = Number((r.data as Json).id);
    this.#handlers.set(id, onEvent);
    return new JanusHandle(this.#socket, this.#token, this.#sessionId as number, id);
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#keepalive);
    if (this.#sessionId !== undefined && this.#socket.open) {
      await this.#socket.request({ janus: 'destroy', session_id: this.#sessionId, token: this.#token }, { timeoutMs: 1_000 }).catch(() => {});
    }
    this.#socket.close();
  }
}

export class JanusHandle {
  readonly #socket: JanusSocket;
  readonly #token: string;
  readonly #sessionId: number;
  readonly id: number;

  constructor(socket: JanusSocket, token: string, sessionId: number, id: number) {
    this.#socket = socket;
    this.#token = token;
    this.#sessionId = sessionId;
    this.id = id;
  }

  /**
   * A plugin request: answered synchronously (`success`) or, for join/configure/start, by an event
   * after Janus's ack. A plugin's own error (`error_code` in its data) is a JanusError.
   */
  async message(body: Json, jsep?: Jsep): Promise<PluginReply> {
    const r = await this.#socket.request(
      { janus: 'message', session_id: this.#sessionId, handle_id: this.id, body, token: this.#token, ...(jsep ? { jsep } : {}) },
      { skipAck: true },
    );
    const data = ((r.plugindata ?? {}) as { data?: Json }).data ?? {};
    if (typeof data.error_code === 'number') throw new JanusError(data.error_code, String(data.error ?? 'plugin error'));
    return { data, ...(r.jsep ? { jsep: r.jsep as Jsep } : {}) };
  }

  /** One local ICE candidate, or null when gathering is complete. */
  async trickle(candidate: { candidate: string; sdpMid?: string | null; sdpMLineIndex?: number | null } | null): Promise<void> {
    await this.#socket.request({
      janus: 'trickle',
      session_id: this.#sessionId,
      handle_id: this.id,
      token: this.#token,
      candidate: candidate ?? { completed: true },
    });
  }

  async detach(): Promise<void> {
    await this.#socket.request({ janus: 'detach', session_id: this.#sessionId, handle_id: this.id, token: this.#token }).catch(() => {});
  }
}
