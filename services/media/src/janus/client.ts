import { JanusError, JanusSocket } from './transport';

type Json = Record<string, unknown>;

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
  #keepalive: NodeJS.Timeout | undefined;
  readonly #handlers = new Map<number, (event: PluginReply & { janus: string }) => void>();
  #closed = false;
  onClose: () => void = () => {};

  constructor(url: string, token: string, timeoutMs = 5_000) {
    this.#socket = new JanusSocket(url, 'janus-protocol', timeoutMs);
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
    this.#keepalive.unref?.();
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
