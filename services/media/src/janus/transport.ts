import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';

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
  timer: NodeJS.Timeout;
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
  readonly #protocol: string;
  readonly #timeoutMs: number;
  #ws: WebSocket | undefined;
  #opening: Promise<WebSocket> | undefined;
  readonly #pending = new Map<string, Pending>();
  onEvent: (msg: Json) => void = () => {};
  onClose: () => void = () => {};

  constructor(url: string, protocol: 'janus-protocol' | 'janus-admin-protocol', timeoutMs: number) {
    this.url = url;
    this.#protocol = protocol;
    this.#timeoutMs = timeoutMs;
  }

  get open(): boolean {
    return this.#ws?.readyState === WebSocket.OPEN;
  }

  #connect(): Promise<WebSocket> {
    if (this.#ws && this.#ws.readyState === WebSocket.OPEN) return Promise.resolve(this.#ws);
    this.#opening ??= new Promise<WebSocket>((resolve, reject) => {
      const ws = new WebSocket(this.url, this.#protocol, { handshakeTimeout: this.#timeoutMs });
      const fail = (err: Error) => {
        this.#opening = undefined;
        reject(new JanusUnavailableError(this.url, err.message, { cause: err }));
      };
      ws.once('error', fail);
      ws.once('open', () => {
        ws.off('error', fail);
        ws.on('error', () => {});
        this.#ws = ws;
        this.#opening = undefined;
        resolve(ws);
      });
      ws.on('message', (data) => this.#receive(data.toString()));
      ws.on('close', () => {
        if (this.#ws === ws) this.#ws = undefined;
        for (const [tx, p] of this.#pending) {
          clearTimeout(p.timer);
          p.reject(new JanusUnavailableError(this.url, 'connection closed'));
          this.#pending.delete(tx);
        }
        this.onClose();
      });
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
    const transaction = randomBytes(9).toString('base64url');
    return new Promise<Json>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(transaction);
        reject(new JanusUnavailableError(this.url, `no answer to ${String(body.janus)} in ${options.timeoutMs ?? this.#timeoutMs} ms`));
      }, options.timeoutMs ?? this.#timeoutMs);
      this.#pending.set(transaction, { resolve, reject, timer, skipAck: options.skipAck ?? false });
      ws.send(JSON.stringify({ ...body, transaction }), (err) => {
        if (!err) return;
        clearTimeout(timer);
        this.#pending.delete(transaction);
        reject(new JanusUnavailableError(this.url, err.message, { cause: err }));
      });
    });
  }

  close(): void {
    this.#ws?.close();
    this.#ws = undefined;
  }
}
