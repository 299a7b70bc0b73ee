/**
 * The call's WebSocket to the gateway (/api/video/ws): hello → welcome, then signals, media
 * state and roster events. When the socket drops (network blip, gateway restart, a `reconnect`
 * notice) it reconnects with backoff and resumes the same session with the resume token, so
 * the peer connections — and the media on them — never notice. Signals sent meanwhile are
 * queued and delivered after the resume.
 */
import { removedFromLessonMessage, type Welcome, wsCloseCodes } from '@lessoncall/proto';
import { GatewayError, isFinal } from './errors';
import { mark } from './marks';
import { type ClientMessageInit, decodeServerMessage, encodeClientMessage, type HelloFields, type ServerMessage, type SignalInit } from './protocol';
import { newTraceparent } from './trace';

/** The part of the WebSocket API this client uses (browser WebSocket and the `ws` package both fit). */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}

export type WebSocketFactory = (url: string) => WebSocketLike;

const OPEN = 1;
/** The gateway closes a socket with this when the same session was resumed on another socket. */

export interface ReconnectPolicy {
  /** Delay before the first attempt after a drop. */
  initialDelayMs: number;
  maxDelayMs: number;
  /** Stop trying (and report the call as failed) after this long without a socket. */
  giveUpAfterMs: number;
}

export interface SignalingOptions {
  /** ws(s)://<host>/api/video/ws */
  url: string;
  /** Called before every hello (first join and each resume) for a fresh token and the current mute/camera state. */
  hello: () => Promise<Omit<HelloFields, 'resumeSessionId' | 'resumeToken'>>;
  createSocket?: WebSocketFactory;
  reconnect?: Partial<ReconnectPolicy>;
  /** Ping interval; the pong also measures the signaling round trip. */
  heartbeatMs?: number;
  /** Nothing received for this long: the socket is dead even if the OS has not noticed. */
  idleTimeoutMs?: number;
  /** How long a hello may wait for its welcome. */
  welcomeTimeoutMs?: number;
  /** Signals kept while reconnecting. */
  maxQueued?: number;
  random?: () => number;
  now?: () => number;
}

export type SignalingClosed =
  /** We left (leave() or close()). */
  | { type: 'left' }
  /** The meeting ended (after a meetingEnded message). */
  | { type: 'ended' }
  /** The gateway refused to resume or rejoin for a reason no retry fixes (the meeting ended, …). */
  | { type: 'rejected'; error: GatewayError }
  /** No socket for longer than giveUpAfterMs. */
  | { type: 'gave-up'; error: GatewayError };

export interface SignalingEvents {
  /** A welcome on a socket after a drop: `welcome.resumed` says whether the session survived. */
  rejoined?(welcome: Welcome): void;
  /** Every server message except welcome and pong. */
  message?(message: ServerMessage): void;
  /**
   * Signals from this peer went missing on the way (its numbering jumped): whatever they
   * carried (an answer, candidates) will not come, so the connection to it needs an ICE restart.
   */
  signalGap?(fromSessionId: string, missing: number): void;
  /** The socket dropped; attempt 1, 2, … of getting it back. */
  reconnecting?(attempt: number, cause: GatewayError | undefined): void;
  /** Terminal: no more reconnects. */
  closed?(reason: SignalingClosed): void;
  /** Signaling round-trip time from ping/pong. */
  rtt?(ms: number): void;
}

export type SignalingState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed';

const resumeRefusedCodes = new Set(['resume_rejected', 'session_not_found', 'not_in_meeting']);
const authCodes = new Set(['unauthenticated', 'token_expired']);

interface Attempt {
  socket: WebSocketLike;
  requestId: string;
  settled: boolean;
}

export class SignalingClient {
  private readonly opts: Required<Omit<SignalingOptions, 'reconnect'>> & { reconnect: ReconnectPolicy };
  private readonly events: SignalingEvents;
  private socket: WebSocketLike | undefined;
  private stateValue: SignalingState = 'idle';
  private sessionId: string | undefined;
  private resumeToken: string | undefined;
  /** The key of the fresh join in progress, the same on every hello that retries it until a welcome (issue 11). */
  private joinKey: string | undefined;
  private queue: string[] = [];
  private nextRequest = 1;
  private heartbeat: ReturnType<typeof setInterval> | undefined;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private lastReceivedAt = 0;
  private dropStartedAt = 0;
  private reconnectAttempt = 0;
  private authRetries = 0;
  private leftOnPurpose = false;
  /** Set by a `reconnect` notice: the server is about to close; come back after this delay. */
  private requestedDelayMs: number | undefined;
  /** Our numbering of the signals we sent each peer, and the last number seen from each. */
  private readonly sentSeq = new Map<string, number>();
  private readonly receivedSeq = new Map<string, number>();

  constructor(options: SignalingOptions, events: SignalingEvents = {}) {
    this.opts = {
      createSocket: (url) => new WebSocket(url) as unknown as WebSocketLike,
      heartbeatMs: 4_000,
      idleTimeoutMs: 10_000,
      welcomeTimeoutMs: 10_000,
      maxQueued: 500,
      random: Math.random,
      now: Date.now,
      ...options,
      reconnect: { initialDelayMs: 100, maxDelayMs: 5_000, giveUpAfterMs: 60_000, ...options.reconnect },
    };
    this.events = events;
  }

  get state(): SignalingState {
    return this.stateValue;
  }

  get currentSessionId(): string | undefined {
    return this.sessionId;
  }

  /** First join. Resolves with the welcome; rejects with the gateway's GatewayError (passcode_invalid, …) or `unavailable`. */
  async join(): Promise<Welcome> {
    if (this.stateValue !== 'idle') throw new Error(`join() in state ${this.stateValue}`);
    this.stateValue = 'connecting';
    try {
      const welcome = await this.attempt(false);
      if ((this.stateValue as SignalingState) === 'closed') {
        // leave()/close() while the hello was in flight: the session exists now, so end it.
        this.endAbandoned();
        throw new GatewayError('unavailable', 'closed while joining');
      }
      this.stateValue = 'open';
      this.startHeartbeat();
      return welcome;
    } catch (err) {
      this.stateValue = 'closed';
      throw err;
    }
  }

  /** Sends a WebRTC signal to another session; queued while reconnecting. */
  signal(toSessionId: string, signal: SignalInit): void {
    const seq = (this.sentSeq.get(toSessionId) ?? 0) + 1;
    this.sentSeq.set(toSessionId, seq);
    this.sendOrQueue({ kind: { case: 'signal', value: { toSessionId, signal, seq } } }, true);
  }

  /** Own mute/camera state, or (tutor) another session's microphone. Not queued: the next hello carries our state. */
  setMedia(kind: 'audio' | 'video', muted: boolean, targetSessionId = ''): string {
    const requestId = this.requestId();
    this.sendOrQueue({ requestId, kind: { case: 'media', value: { kind, muted, targetSessionId } } }, false);
    return requestId;
  }

  /** A chat message; queued while reconnecting (the client message id makes a resend harmless). */
  chat(requestId: string, clientMessageId: string, text: string): void {
    this.sendOrQueue({ requestId, kind: { case: 'chatSend', value: { clientMessageId, text } } }, true);
  }

  /** Tutor controls (the participant service decides who may): each answers with its requestId. */
  removeParticipant(targetSessionId: string): string {
    return this.request({ case: 'removeParticipant', value: { targetSessionId } });
  }

  askUnmute(targetSessionId: string): string {
    return this.request({ case: 'askUnmute', value: { targetSessionId } });
  }

  allowRejoin(userId: string): string {
    return this.request({ case: 'allowRejoin', value: { userId } });
  }

  /** Not queued: an action the tutor took while the socket was down is theirs to repeat, not ours to replay late. */
  private request(kind: ClientMessageInit['kind']): string {
    const requestId = this.requestId();
    this.sendOrQueue({ requestId, kind }, false);
    return requestId;
  }

  /**
   * Whiteboard traffic and call quality samples. Not queued while reconnecting: the board
   * exchanges state vectors after the welcome (which carries whatever was not acknowledged), and
   * a lost quality sample is one of many.
   */
  sendData(kind: ClientMessageInit['kind'], requestId = ''): void {
    this.sendOrQueue({ requestId, kind }, false);
  }

  /** Leaves the meeting for good: tells the gateway, closes, never reconnects. */
  leave(): void {
    if (this.stateValue === 'closed') return;
    this.leftOnPurpose = true;
    if (this.socket?.readyState === OPEN) this.socket.send(encodeClientMessage({ kind: { case: 'leave', value: {} } }));
    this.shutdown({ type: 'left' }, wsCloseCodes.normal, 'leave');
  }

  /** Closes without a leave (page unload: the gateway's grace period applies). */
  close(): void {
    this.shutdown({ type: 'left' }, wsCloseCodes.normal, 'close');
  }

  /** Drops the socket the way a network failure would (for tests and the e2e suite): the client reconnects and resumes. */
  dropConnection(): void {
    const s = this.socket;
    if (this.stateValue === 'open' && s) this.onDrop(s, undefined, wsCloseCodes.clientDropped, 'dropped by client');
  }

  private requestId(): string {
    return String(this.nextRequest++);
  }

  private sendOrQueue(msg: ClientMessageInit, queueable: boolean) {
    const text = encodeClientMessage(msg);
    if (this.stateValue === 'open' && this.socket?.readyState === OPEN) {
      this.socket.send(text);
    } else if (queueable && this.stateValue === 'reconnecting' && this.queue.length < this.opts.maxQueued) {
      this.queue.push(text);
    }
  }

  /**
   * One socket: open, hello (resuming when we have a session), wait for welcome. On success the
   * socket becomes the current one. Rejects with a GatewayError.
   */
  private attempt(resume: boolean): Promise<Welcome> {
    return new Promise<Welcome>((resolve, reject) => {
      let socket: WebSocketLike;
      try {
        socket = this.opts.createSocket(this.opts.url);
      } catch (err) {
        reject(new GatewayError('unavailable', 'could not open the socket', {}, { cause: err }));
        return;
      }
      const a: Attempt = { socket, requestId: `hello-${this.requestId()}`, settled: false };
      const fail = (err: GatewayError) => {
        if (a.settled) return;
        a.settled = true;
        clearTimeout(timer);
        detach(socket);
        safeClose(socket, wsCloseCodes.normal, 'hello failed');
        reject(err);
      };
      const timer = setTimeout(() => fail(new GatewayError('unavailable', 'no welcome from the gateway in time')), this.opts.welcomeTimeoutMs);
      socket.onopen = () => {
        mark('ws-open');
        this.opts
          .hello()
          .then((hello) => {
            if (a.settled || socket.readyState !== OPEN) return;
            const resuming = resume && this.sessionId && this.resumeToken;
            if (!resuming) this.joinKey ??= globalThis.crypto.randomUUID();
            const resumeFields = resuming ? { resumeSessionId: this.sessionId, resumeToken: this.resumeToken } : { joinKey: this.joinKey };
            // Each attempt its own trace, continued by the gateway through the join (issue 11).
            const traceparent = newTraceparent();
            socket.send(encodeClientMessage({ requestId: a.requestId, kind: { case: 'hello', value: { ...hello, ...resumeFields, traceparent } } }));
          })
          .catch((err) => fail(err instanceof GatewayError ? err : new GatewayError('unauthenticated', 'no access token', {}, { cause: err })));
      };
      socket.onerror = () => {};
      socket.onclose = (ev) => fail(new GatewayError('unavailable', `socket closed before welcome (${ev.code})`));
      socket.onmessage = (ev) => {
        if (a.settled) return;
        let msg: ServerMessage;
        try {
          msg = decodeServerMessage(String(ev.data));
        } catch (err) {
          fail(new GatewayError('internal', 'unreadable message from the gateway', {}, { cause: err }));
          return;
        }
        if (msg.kind.case === 'error') {
          const e = msg.kind.value;
          fail(new GatewayError(e.code, e.message, { retryAfterSeconds: e.retryAfterSeconds, attemptsLeft: e.attemptsLeft, field: e.field }));
        } else if (msg.kind.case === 'welcome') {
          a.settled = true;
          clearTimeout(timer);
          const welcome = msg.kind.value;
          this.sessionId = welcome.sessionId;
          this.resumeToken = welcome.resumeToken;
          this.joinKey = undefined;
          this.adopt(socket);
          resolve(welcome);
        }
        // Anything before the welcome (a stray pong) is ignored.
      };
    });
  }

  /** Makes `socket` the live one: route its messages and notice when it drops. */
  private adopt(socket: WebSocketLike) {
    this.socket = socket;
    this.lastReceivedAt = this.opts.now();
    this.requestedDelayMs = undefined;
    socket.onmessage = (ev) => this.onMessage(socket, ev.data);
    socket.onclose = (ev) => {
      if (ev.code === wsCloseCodes.removed && socket === this.socket) {
        // The tutor removed us (the notice, if it came first, already ended things): no resume.
        this.shutdown({ type: 'rejected', error: removedError() }, wsCloseCodes.normal, 'removed');
        return;
      }
      if (ev.code === wsCloseCodes.superseded && socket === this.socket) {
        // Our session was resumed on another connection (another tab took it over): fighting back would loop.
        this.shutdown(
          { type: 'rejected', error: new GatewayError('conflict', 'this session continued on another connection') },
          wsCloseCodes.normal,
          'superseded',
        );
        return;
      }
      this.onDrop(socket, undefined, ev.code, ev.reason);
    };
    socket.onerror = () => {};
  }

  private onMessage(socket: WebSocketLike, data: unknown) {
    if (socket !== this.socket) return;
    this.lastReceivedAt = this.opts.now();
    let msg: ServerMessage;
    try {
      msg = decodeServerMessage(String(data));
    } catch {
      return; // one unreadable message is not worth the call
    }
    switch (msg.kind.case) {
      case 'pong': {
        const sent = Number(msg.kind.value.sentAtMs);
        if (sent > 0) this.events.rtt?.(this.opts.now() - sent);
        return;
      }
      case 'reconnect':
        this.requestedDelayMs = msg.kind.value.afterMs;
        return;
      case 'welcome':
        return;
      case 'signal': {
        const { fromSessionId, seq } = msg.kind.value;
        const last = this.receivedSeq.get(fromSessionId);
        if (seq > 0) {
          // 1 is a peer numbering afresh (it reloaded); anything at or below the last is stale.
          if (last !== undefined && seq <= last && seq !== 1) return;
          this.receivedSeq.set(fromSessionId, seq);
          // A peer numbers its signals to us from 1: a first one above 1 means the earlier ones
          // were lost (sent before our socket was listening, or on the way).
          const expected = seq === 1 ? 1 : (last ?? 0) + 1;
          if (seq > expected) this.events.signalGap?.(fromSessionId, seq - expected);
        }
        this.events.message?.(msg);
        return;
      }
      case 'meetingEnded':
        // Terminal for the socket too: the gateway closes it next, and there is nothing to resume.
        this.events.message?.(msg);
        this.shutdown({ type: 'ended' }, wsCloseCodes.normal, 'meeting ended');
        return;
      case 'removed':
        // As terminal: the gateway closes with 4403 next, and a resume or rejoin would be refused.
        this.events.message?.(msg);
        this.shutdown({ type: 'rejected', error: removedError(msg.kind.value.message) }, wsCloseCodes.normal, 'removed');
        return;
      default:
        this.events.message?.(msg);
    }
  }

  private onDrop(socket: WebSocketLike, cause: GatewayError | undefined, code?: number, reason?: string) {
    if (socket !== this.socket || this.stateValue !== 'open') return;
    detach(socket);
    safeClose(socket, code ?? wsCloseCodes.clientDropped, reason ?? 'dropped');
    this.socket = undefined;
    this.stopHeartbeat();
    this.stateValue = 'reconnecting';
    this.dropStartedAt = this.opts.now();
    this.reconnectAttempt = 0;
    this.authRetries = 0;
    this.scheduleReconnect(cause, this.requestedDelayMs);
  }

  private backoff(attempt: number): number {
    const { initialDelayMs, maxDelayMs } = this.opts.reconnect;
    const ceiling = Math.min(maxDelayMs, initialDelayMs * 2 ** (attempt - 1));
    // "Equal jitter": never zero, never in lock-step with every other client of a restarted gateway.
    return Math.round(ceiling / 2 + (this.opts.random() * ceiling) / 2);
  }

  private scheduleReconnect(cause: GatewayError | undefined, delayMs?: number) {
    if (this.stateValue !== 'reconnecting') return;
    if (this.opts.now() - this.dropStartedAt > this.opts.reconnect.giveUpAfterMs) {
      this.shutdown({ type: 'gave-up', error: cause ?? new GatewayError('unavailable', 'could not reconnect') }, wsCloseCodes.normal, 'gave up');
      return;
    }
    this.reconnectAttempt += 1;
    const attempt = this.reconnectAttempt;
    this.events.reconnecting?.(attempt, cause);
    const delay = delayMs ?? (cause?.retryAfterSeconds ? cause.retryAfterSeconds * 1000 : this.backoff(attempt));
    this.retryTimer = setTimeout(() => this.reconnect(), delay);
  }

  private async reconnect() {
    this.retryTimer = undefined;
    if (this.stateValue !== 'reconnecting') return;
    let welcome: Welcome;
    try {
      welcome = await this.attempt(true);
    } catch (err) {
      if (this.stateValue !== 'reconnecting') return;
      const e = err instanceof GatewayError ? err : new GatewayError('unavailable', String(err), {}, { cause: err });
      if (e.code === 'removed_from_meeting') {
        // Removed while we were away: neither this session nor a new one may come back.
        this.shutdown({ type: 'rejected', error: e }, wsCloseCodes.normal, e.code);
      } else if (resumeRefusedCodes.has(e.code)) {
        // The session is gone (grace period over, or another device took it): join afresh at once.
        this.sessionId = undefined;
        this.resumeToken = undefined;
        this.scheduleReconnect(e, 0);
      } else if (e.code === 'conflict' && e.field === 'joinKey') {
        // The session our lost welcome announced has ended since: a new join, with a new key.
        this.joinKey = undefined;
        this.scheduleReconnect(e, 0);
      } else if (authCodes.has(e.code) && this.authRetries++ < 2) {
        this.scheduleReconnect(e, 0); // hello() fetches a fresh token
      } else if (isFinal(e.code) || authCodes.has(e.code) || e.code.startsWith('passcode_')) {
        this.shutdown({ type: 'rejected', error: e }, wsCloseCodes.normal, e.code);
      } else {
        this.scheduleReconnect(e);
      }
      return;
    }
    if (this.stateValue !== 'reconnecting') {
      this.endAbandoned();
      return;
    }
    this.stateValue = 'open';
    const queued = welcome.resumed ? this.queue : [];
    this.queue = [];
    if (!welcome.resumed) {
      // A new session: peers know us by a new id, and we start their numbering afresh.
      this.sentSeq.clear();
      this.receivedSeq.clear();
    }
    this.startHeartbeat();
    this.events.rejoined?.(welcome);
    // Signals addressed from a session that no longer exists would be refused; the peers restart anyway.
    for (const text of queued) this.socket?.send(text);
  }

  /** A socket that got its welcome after we had already left or closed. */
  private endAbandoned() {
    const s = this.socket;
    this.socket = undefined;
    if (!s) return;
    detach(s);
    if (this.leftOnPurpose && s.readyState === OPEN) s.send(encodeClientMessage({ kind: { case: 'leave', value: {} } }));
    safeClose(s, wsCloseCodes.normal, 'left');
  }

  private startHeartbeat() {
    this.stopHeartbeat();
    this.heartbeat = setInterval(() => {
      const s = this.socket;
      if (!s || this.stateValue !== 'open') return;
      if (this.opts.now() - this.lastReceivedAt > this.opts.idleTimeoutMs) {
        this.onDrop(s, new GatewayError('unavailable', 'no answer from the gateway'), wsCloseCodes.idle, 'idle');
        return;
      }
      if (s.readyState === OPEN) s.send(encodeClientMessage({ kind: { case: 'ping', value: { sentAtMs: BigInt(this.opts.now()) } } }));
    }, this.opts.heartbeatMs);
  }

  private stopHeartbeat() {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
  }

  private shutdown(reason: SignalingClosed, code: number, why: string) {
    if (this.stateValue === 'closed') return;
    this.stateValue = 'closed';
    this.stopHeartbeat();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.queue = [];
    const s = this.socket;
    this.socket = undefined;
    if (s) {
      detach(s);
      safeClose(s, code, why);
    }
    this.events.closed?.(reason);
  }
}

function removedError(message = removedFromLessonMessage): GatewayError {
  return new GatewayError('removed_from_meeting', message);
}

function detach(s: WebSocketLike) {
  s.onopen = null;
  s.onmessage = null;
  s.onclose = null;
  s.onerror = () => {};
}

function safeClose(s: WebSocketLike, code: number, reason: string) {
  try {
    s.close(code, reason);
  } catch {
    // already closing, or a code the implementation refuses
  }
}
