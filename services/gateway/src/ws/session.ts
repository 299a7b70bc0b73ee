import { isErrorCodeName, type Logger, type Msg, type NatsConnection, ServiceError, SpanKind, type Subscription, withSpan } from '@lessoncall/kit';
import { context, propagation } from '@opentelemetry/api';
import {
  type ControlBoard,
  type SendBoardUpdate,
  type SendQualityReport,
  type SyncBoard,
  type Hello,
  isValidJoinKey,
  type JoinResponse,
  type OutgoingSignal,
  removedFromLessonMessage,
  type SendChat,
  type SetMedia,
  subjects,
  wsCloseCodes,
} from '@lessoncall/proto';
import { WebSocket } from 'ws';
import type { Identity, TokenVerifier } from '../auth/index';
import type { GatewayConfig } from '../config';
import { traceparentPattern } from '../rest/observe';
import type { SnapshotMark } from '@lessoncall/signaling/roster';
import type { MeetingEvent, MeetingHub } from './meeting-hub';
import type { WsMetrics } from './metrics';
import type { PresenceReporter } from './presence';
import { errorMessage, mediaKinds, parseClientFrame, requireToken, type ServerKind, salvageRequestId, serverMessage, signalTypes } from './protocol';
import { type Now, TokenBucket, WindowCounter } from './rate-limit';
import type { SignalEndpoint, SignalRouter } from './router';
import { SignalSequencer } from './sequencer';
import type { ServiceClients } from '../services';
import { readEnvelope, renderIncomingSignal } from './signal-wire';

/** What every socket of one gateway process shares. */
export interface WsContext {
  config: GatewayConfig;
  nc: NatsConnection;
  /** The services' callers, REQUEST_TIMEOUT_MS each. */
  services: ServiceClients;
  logger: Logger;
  verifier: TokenVerifier;
  hub: MeetingHub;
  presence: PresenceReporter;
  router: SignalRouter;
  metrics: WsMetrics;
  /** Joined sessions on this process by sessionId: a resume here supersedes a stale socket of the same session. */
  sessions: Map<string, Session>;
  now: Now;
}

/** Close codes a client can act on. */
/** Shared with the web client (proto/lib/ws-close-codes.ts). */
export const closeCodes = wsCloseCodes;

const maxTimerMs = 2_147_483_647;

type State = 'hello' | 'joining' | 'joined' | 'closed';

/** Events that arrive while the join is in flight are kept (bounded) and replayed after welcome. */
const maxBufferedEvents = 64;
const maxRequestIdLength = 128;

/** The browser's trace for a hello, when it sent a well-formed one; otherwise the span starts a trace of its own. */
function helloTraceContext(traceparent: string) {
  return traceparentPattern.test(traceparent) ? propagation.extract(context.active(), { traceparent }) : undefined;
}

/** How often a socket that has not opened the whiteboard hears that someone draws on it. */
const boardHintEveryMs = 5_000;

/**
 * One WebSocket: `hello` (token check, join or resume), then signal relay, media state,
 * leave, ping, and meeting events pushed to it. Nothing the client sends closes the
 * socket except abuse (message rate, frames far over the cap, repeated failed hellos).
 */
export class Session implements SignalEndpoint {
  readonly ws: WebSocket;
  readonly #ctx: WsContext;
  readonly #clientKey: string;
  readonly #bucket: TokenBucket;
  readonly #abuse: WindowCounter;
  readonly #chatBucket: TokenBucket;
  readonly #boardBucket: TokenBucket;
  readonly #qualityBucket: TokenBucket;
  /** The client asked for the board (SyncBoard): only then does it get every board update. */
  #boardOpen = false;
  /** Before that, one update now and then tells it that someone is drawing (its "new drawing" badge). */
  #boardHintAt = Number.NEGATIVE_INFINITY;
  /** The meeting runs on the SFU (from the welcome): room access is this socket's to ask for. */
  #isSfu = false;
  #state: State = 'hello';
  #logger: Logger;
  #helloTimer: NodeJS.Timeout | undefined;
  #failedHellos = 0;
  #expiryTimer: NodeJS.Timeout | undefined;
  #lastRateLimitedErrorAt = Number.NEGATIVE_INFINITY;
  #deliver: Subscription | undefined;
  #releaseMeeting: (() => void) | undefined;
  #buffer: MeetingEvent[] | undefined;
  /** Set once the session needs no `disconnected` report on close: it left, its meeting ended, it was superseded or is gone. */
  #presenceSettled = false;
  /** The client asked to leave: its own participant.left is the answer, not news to report as an error. */
  #leaving = false;
  /** Each sender's signals, back in the order it numbered them. */
  readonly #sequencer: SignalSequencer;
  readonly viaSignalingUntil = new Map<string, number>();

  readonly #routeMeetingId: string;
  meetingId = '';
  sessionId = '';
  userId = '';
  /** The verified token this socket said hello with (a sign-out elsewhere closes the socket: revocations.ts). */
  identity: Identity | undefined;
  /** Answered the last ping. */
  alive = true;
  lastPresenceAt = 0;

  /**
   * `routeMeetingId`: the socket URL's `?meeting=` (the ingress hashes it so that both sides of
   * a lesson share a gateway); '' when the client sent none. A hello for another meeting is refused.
   */
  constructor(ws: WebSocket, clientKey: string, ctx: WsContext, routeMeetingId = '') {
    this.ws = ws;
    this.#routeMeetingId = routeMeetingId;
    this.#ctx = ctx;
    this.#clientKey = clientKey;
    this.#logger = ctx.logger;
    const { WS_RATE_PER_SECOND: rate, WS_ABUSE_RATE_FACTOR: factor } = ctx.config;
    this.#bucket = new TokenBucket(rate, rate * 2, ctx.now);
    this.#abuse = new WindowCounter(rate * factor, 1000, ctx.now);
    this.#chatBucket = new TokenBucket(ctx.config.CHAT_RATE_PER_MINUTE / 60, ctx.config.CHAT_BURST, ctx.now);
    this.#boardBucket = new TokenBucket(ctx.config.BOARD_UPDATES_PER_SECOND, ctx.config.BOARD_BURST, ctx.now);
    this.#qualityBucket = new TokenBucket(
      ctx.config.QUALITY_REPORTS_PER_MINUTE / 60,
      Math.max(1, Math.ceil(ctx.config.QUALITY_REPORTS_PER_MINUTE / 6)),
      ctx.now,
    );
    this.#sequencer = new SignalSequencer({
      waitMs: ctx.config.SIGNAL_REORDER_WAIT_MS,
      maxHeld: ctx.config.SIGNAL_REORDER_MAX,
      deliver: (fromSessionId, signal, seq) => this.#send(renderIncomingSignal(fromSessionId, signal, seq), 'signal'),
      // Counted here for operators; the client sees the same jump in the numbering and recovers.
      onGap: (_from, missing) => ctx.metrics.signalGaps.add(missing),
      onLate: () => ctx.metrics.signalsLate.add(1),
    });
    this.#armHelloTimer();
  }

  get state(): State {
    return this.#state;
  }

  get joined(): boolean {
    return this.#state === 'joined';
  }

  onMessage(data: Buffer): void {
    if (this.#state === 'closed') return;
    const { metrics, config } = this.#ctx;
    if (this.#abuse.hit()) {
      this.#closeForAbuse('message rate');
      return;
    }
    if (!this.#bucket.take()) {
      metrics.received.add(1, { kind: 'rate_limited' });
      // One error per second is enough to tell the client; answering every dropped message would double the flood.
      const t = this.#ctx.now();
      if (t - this.#lastRateLimitedErrorAt >= 1000) {
        this.#lastRateLimitedErrorAt = t;
        this.#sendError(
          salvageRequestId(data),
          new ServiceError('rate_limited', `more than ${config.WS_RATE_PER_SECOND} messages per second`, { retryAfterSeconds: 1 }),
        );
      }
      return;
    }
    if (data.length > config.WS_MAX_MESSAGE_BYTES) {
      metrics.received.add(1, { kind: 'too_large' });
      this.#sendError('', new ServiceError('message_too_large', `messages are limited to ${config.WS_MAX_MESSAGE_BYTES} bytes`));
      return;
    }
    let requestId = '';
    try {
      const { message, json } = parseClientFrame(data);
      requestId = message.requestId;
      if (requestId.length > maxRequestIdLength) {
        requestId = '';
        throw new ServiceError('invalid_request', `requestId is limited to ${maxRequestIdLength} characters`, { field: 'requestId' });
      }
      const kind = message.kind;
      metrics.received.add(1, { kind: kind.case ?? 'none' });
      switch (kind.case) {
        case 'hello':
          // A span continuing the browser's trace (hello.traceparent): the join's NATS requests are its children.
          void withSpan('ws hello', { kind: SpanKind.SERVER, parent: helloTraceContext(kind.value.traceparent) }, () => this.#hello(requestId, kind.value));
          return;
        case 'ping':
          this.#send(serverMessage(requestId, { case: 'pong', value: { sentAtMs: kind.value.sentAtMs } }), 'pong');
          return;
        case 'signal':
          this.#requireJoined();
          this.#signal(requestId, kind.value, (json as { signal: { signal: unknown } }).signal.signal);
          return;
        case 'media':
          this.#requireJoined();
          void this.#media(requestId, kind.value);
          return;
        case 'leave':
          this.#requireJoined();
          void this.#leave(requestId);
          return;
        case 'chatSend':
          this.#requireJoined();
          this.#chat(requestId, kind.value);
          return;
        // Tutor controls: the participant service decides who may; the gateway only routes.
        case 'removeParticipant': {
          this.#requireJoined();
          const targetSessionId = requireToken(kind.value.targetSessionId, 'targetSessionId');
          this.#ask(requestId, this.#ctx.services.participants.remove({ meetingId: this.meetingId, userId: this.userId, targetSessionId }), (value) =>
            this.#send(serverMessage(requestId, { case: 'participantRemoved', value }), 'participantRemoved'),
          );
          return;
        }
        case 'askUnmute': {
          this.#requireJoined();
          const targetSessionId = requireToken(kind.value.targetSessionId, 'targetSessionId');
          this.#ask(requestId, this.#ctx.services.participants.askUnmute({ meetingId: this.meetingId, userId: this.userId, targetSessionId }), (value) =>
            this.#send(serverMessage(requestId, { case: 'unmuteAskSent', value }), 'unmuteAskSent'),
          );
          return;
        }
        case 'allowRejoin':
          this.#requireJoined();
          this.#ask(
            requestId,
            this.#ctx.services.participants.allowRejoin({ meetingId: this.meetingId, userId: this.userId, targetUserId: kind.value.userId }),
            (value) => this.#send(serverMessage(requestId, { case: 'rejoinAllowed', value }), 'rejoinAllowed'),
          );
          return;
        case 'boardUpdate':
          this.#requireJoined();
          this.#boardUpdate(requestId, kind.value);
          return;
        case 'boardSync':
          this.#requireJoined();
          this.#boardSync(requestId, kind.value);
          return;
        case 'boardControl':
          this.#requireJoined();
          this.#boardControl(requestId, kind.value);
          return;
        case 'qualityReport':
          this.#requireJoined();
          this.#qualityReport(requestId, kind.value);
          return;
        case 'sfuRefresh':
          this.#requireJoined();
          this.#sfuAccess(requestId, false);
          return;
        default:
          throw new ServiceError('invalid_request', 'unknown message kind', { field: 'kind' });
      }
    } catch (err) {
      if (requestId === '' && !(err instanceof ServiceError && err.field === 'requestId')) requestId = salvageRequestId(data);
      this.#sendError(requestId, this.#asServiceError(err));
    }
  }

  /** The socket closed, for whatever reason: release everything and, unless settled, tell the participant service. */
  onClose(code: number): void {
    if (this.#state === 'closed') return;
    const was = this.#state;
    this.#state = 'closed';
    this.#cleanup();
    this.#logger.debug({ code, was }, 'socket closed');
    if (was === 'joined' && !this.#presenceSettled) {
      // The participant service starts its grace period; a resume within it keeps the session.
      void this.#ctx.presence.report(this.meetingId, this.sessionId, 'disconnected');
    }
  }

  /** Drain: tell the client to reconnect (to another replica) after `afterMs`, and close as a restart. */
  sendReconnect(afterMs: number): void {
    this.#send(serverMessage('', { case: 'reconnect', value: { afterMs } }), 'reconnect');
    this.close(closeCodes.restart, 'service restart', 'drain');
  }

  /** The token it said hello with was signed out: closed like an expired one, but no fresh token will come. */
  signedOut(): void {
    this.#sendError('', new ServiceError('token_revoked', 'this access token was signed out; sign in again'));
    this.close(closeCodes.tokenExpired, 'signed out', 'token_revoked');
  }

  /** A presence ack said the session is no longer live (timed out or ended by the participant service). */
  gone(): void {
    if (this.#state !== 'joined') return;
    this.#presenceSettled = true;
    if (this.#leaving) {
      // The leave's own event overtook its reply (found by the drills: every leave over the
      // socket answered "this session has ended; join again"): a clean close, as the leave would.
      this.close(closeCodes.normal, 'left', 'leave');
      return;
    }
    this.#sendError('', new ServiceError('session_not_found', 'this session has ended; join again'));
    this.close(closeCodes.normal, 'session ended', 'session_gone');
  }

  /** The close handshake has begun and the socket has not closed yet. */
  get closing(): boolean {
    return this.ws.readyState === WebSocket.CLOSING;
  }

  close(code: number, reason: string, why: string): void {
    if (this.ws.readyState === WebSocket.CLOSED || this.ws.readyState === WebSocket.CLOSING) return;
    this.#ctx.metrics.closed.add(1, { reason: why });
    this.ws.close(code, reason);
  }

  terminate(why: string): void {
    this.#ctx.metrics.closed.add(1, { reason: why });
    this.ws.terminate();
  }

  #closeForAbuse(what: string): void {
    this.#logger.info({ clientKey: this.#clientKey, abuse: what }, 'closing socket for abuse');
    this.close(closeCodes.policy, `abuse: ${what}`, 'abuse');
  }

  #armHelloTimer(): void {
    clearTimeout(this.#helloTimer);
    this.#helloTimer = setTimeout(() => {
      if (this.#state !== 'hello') return;
      this.#sendError('', new ServiceError('unauthenticated', `no hello within ${this.#ctx.config.WS_HELLO_TIMEOUT_MS} ms`));
      this.close(closeCodes.policy, 'hello timeout', 'hello_timeout');
    }, this.#ctx.config.WS_HELLO_TIMEOUT_MS);
    this.#helloTimer.unref();
  }

  #requireJoined(): void {
    if (this.#state !== 'joined') throw new ServiceError('unauthenticated', 'send hello and wait for welcome first');
  }

  /**
   * hello → welcome, in three steps: check the hello and its token; join (or resume) at the
   * participant service, listening to the meeting and to our signal subject before anyone can
   * learn the session exists; then the welcome and what follows it. A failure answers the hello's
   * error and lets the client try again, up to WS_MAX_FAILED_HELLOS.
   */
  async #hello(requestId: string, hello: Hello): Promise<void> {
    if (this.#state !== 'hello') {
      this.#sendError(
        requestId,
        new ServiceError('invalid_request', this.#state === 'joined' ? 'already joined' : 'hello already in progress', { field: 'hello' }),
      );
      return;
    }
    const started = performance.now();
    let joinedSessionId = '';
    try {
      const { meetingId, identity } = await this.#authenticate(hello);
      // Closed meanwhile (the socket went, or a sign-out arrived during the token check).
      if (this.state !== 'joining') return;
      const { res, rosterMark } = await this.#joinAtParticipant(meetingId, identity, hello);
      joinedSessionId = res.sessionId;
      await this.#listenForSignals(res.sessionId);
      this.#becomeJoined(requestId, meetingId, identity, res, rosterMark);
      this.#ctx.metrics.hello.record((performance.now() - started) / 1000);
      this.#logger.debug({ resumed: res.resumed, userId: identity.userId }, 'session joined');
      this.#afterWelcome(meetingId, identity, res);
    } catch (err) {
      this.#cleanup();
      if (joinedSessionId) {
        // Joined at the participant service but the socket is gone (or we failed after): start its grace period.
        void this.#ctx.presence.report(hello.meetingId, joinedSessionId, 'disconnected');
      }
      if (err instanceof SocketGone || this.state === 'closed') return;
      this.#state = 'hello';
      this.#failedHellos += 1;
      this.#sendError(requestId, this.#asServiceError(err));
      if (this.#failedHellos >= this.#ctx.config.WS_MAX_FAILED_HELLOS) this.#closeForAbuse('failed hellos');
      else this.#armHelloTimer();
    }
  }

  /** The hello's fields and its access token: a user token, not signed out. Moves to `joining`. */
  async #authenticate(hello: Hello): Promise<{ meetingId: string; identity: Identity }> {
    if (!hello.accessToken) throw new ServiceError('unauthenticated', 'hello.accessToken is required', { field: 'accessToken' });
    const meetingId = requireToken(hello.meetingId, 'meetingId');
    if (this.#routeMeetingId && meetingId !== this.#routeMeetingId) {
      throw new ServiceError('invalid_request', "hello.meetingId is not the meeting this socket's URL (?meeting=) names", { field: 'meetingId' });
    }
    if (hello.resumeSessionId) requireToken(hello.resumeSessionId, 'resumeSessionId');
    if (hello.joinKey && !isValidJoinKey(hello.joinKey)) {
      throw new ServiceError('invalid_request', 'hello.joinKey must be 1 to 128 visible ASCII characters', { field: 'joinKey' });
    }
    this.#state = 'joining';
    clearTimeout(this.#helloTimer);
    const identity = await this.#ctx.verifier.verify(hello.accessToken);
    if (identity.role !== 'authenticated' || !identity.userId) throw new ServiceError('forbidden', 'joining needs a user token');
    // From here on a sign-out closes this socket, the join still in flight included.
    this.identity = identity;
    return { meetingId, identity };
  }

  /** svc.participant.join (a new session or a resume), after starting to listen to the meeting's events. */
  async #joinAtParticipant(meetingId: string, identity: Identity, hello: Hello) {
    const { hub, config } = this.#ctx;
    // Listen before joining, so a peer that joins while our join is in flight is not missed.
    this.#buffer = [];
    this.#releaseMeeting = hub.acquire(meetingId, this.#onMeetingEvent);
    const rosterMark = hub.mark();
    const res = await this.#ctx.services.participants.join({
      meetingId,
      userId: identity.userId,
      passcode: hello.passcode,
      clientKey: this.#clientKey,
      displayName: hello.displayName,
      audioMuted: hello.audioMuted,
      cameraOff: hello.cameraOff,
      resumeSessionId: hello.resumeSessionId,
      resumeToken: hello.resumeToken,
      joinKey: hello.joinKey,
      gatewayId: config.GATEWAY_ID,
    });
    return { res, rosterMark };
  }

  /** signal.deliver.<session>, known to the server before anyone learns this session exists from us. */
  async #listenForSignals(sessionId: string): Promise<void> {
    requireToken(sessionId, 'sessionId');
    if (this.#state !== 'joining') throw new SocketGone();
    this.#deliver = this.#ctx.nc.subscribe(subjects.signalDeliver(sessionId), { callback: this.#onDeliver });
    await this.#ctx.nc.flush();
    if (this.#state !== 'joining') throw new SocketGone();
  }

  /** The session is this socket's now (a stale socket of it on this process is superseded): the welcome. */
  #becomeJoined(requestId: string, meetingId: string, identity: Identity, res: JoinResponse, rosterMark: SnapshotMark): void {
    this.meetingId = meetingId;
    this.sessionId = res.sessionId;
    this.userId = identity.userId;
    this.#logger = this.#ctx.logger.child({ meetingId, sessionId: res.sessionId });
    const stale = this.#ctx.sessions.get(res.sessionId);
    if (stale && stale !== this) stale.#supersede();
    this.#ctx.sessions.set(res.sessionId, this);
    this.#ctx.hub.seed(meetingId, res.participants, rosterMark);
    this.#state = 'joined';
    this.lastPresenceAt = this.#ctx.now();
    this.#closeAtExpiry(identity.claims.exp);
    this.#send(
      serverMessage(requestId, {
        case: 'welcome',
        value: res,
      }),
      'welcome',
    );
  }

  /** After the welcome: the events held back during the join, the chat history, SFU access, the tutor's removals. */
  #afterWelcome(meetingId: string, identity: Identity, res: JoinResponse): void {
    const buffered = this.#buffer ?? [];
    this.#buffer = undefined;
    const known = new Set(res.participants.map((p) => p.sessionId));
    for (const e of buffered) {
      if (e.type === 'joined' && known.has(e.participant.sessionId)) continue;
      this.#onMeetingEvent(e);
    }
    void this.#sendChatHistory();
    // An sfu meeting: the room's access for this session, after the welcome so the join waits for nothing.
    if (res.meeting?.mediaMode === 'sfu') {
      this.#isSfu = true;
      this.#sfuAccess('', false);
    }
    // The tutor's "allow back" list survives a reload: who is removed, after every welcome.
    if (res.userType === 'tutor') {
      this.#ask('', this.#ctx.services.participants.removals({ meetingId, userId: identity.userId }), (value) =>
        this.#send(serverMessage('', { case: 'removals', value }), 'removals'),
      );
    }
    // No presence report here: the join or resume that just answered recorded the session as
    // connected on this gateway in the same transaction (one request and one write less per hello).
  }

  /** `signalJson`: the Signal as the client wrote it, which `out` was parsed from: it travels on as it is. */
  #signal(requestId: string, out: OutgoingSignal, signalJson: unknown): void {
    const toSessionId = requireToken(out.toSessionId, 'toSessionId');
    if (!out.signal || !signalTypes.has(out.signal.type)) {
      throw new ServiceError('invalid_request', 'signal.type must be offer, answer, candidate or ice-restart', { field: 'signal.type' });
    }
    if (toSessionId === this.sessionId) throw new ServiceError('invalid_request', 'cannot signal yourself', { field: 'toSessionId' });
    this.#ctx.router.route(this, toSessionId, signalJson, out.seq, requestId, (err) => this.#sendError(requestId, err));
  }

  async #media(requestId: string, media: SetMedia): Promise<void> {
    try {
      if (!mediaKinds.has(media.kind)) throw new ServiceError('invalid_request', 'media.kind must be audio or video', { field: 'kind' });
      if (media.targetSessionId) requireToken(media.targetSessionId, 'targetSessionId');
      // No reply on success: the mute.changed event that follows reaches every socket of the meeting, this one included.
      await this.#ctx.services.participants.mute({
        meetingId: this.meetingId,
        userId: this.userId,
        sessionId: this.sessionId,
        targetSessionId: media.targetSessionId,
        kind: media.kind,
        muted: media.muted,
      });
    } catch (err) {
      this.#sendError(requestId, this.#asServiceError(err));
    }
  }

  /**
   * The sender's copy comes back as the reply (with its requestId), also for a resend the service
   * recognised as a duplicate; the others get it from chat.posted. Rate-limited per session here,
   * before the bus: a flood costs the gateway a token check, not a transaction.
   */
  #chat(requestId: string, chat: SendChat): void {
    if (!this.#chatBucket.take()) {
      throw new ServiceError('rate_limited', `at most ${this.#ctx.config.CHAT_RATE_PER_MINUTE} chat messages per minute`, {
        field: 'text',
        retryAfterSeconds: Math.ceil(60 / this.#ctx.config.CHAT_RATE_PER_MINUTE),
      });
    }
    this.#ask(
      requestId,
      this.#ctx.services.participants.chatSend({
        meetingId: this.meetingId,
        userId: this.userId,
        sessionId: this.sessionId,
        clientMessageId: chat.clientMessageId,
        text: chat.text,
      }),
      (res) => {
        if (res.message) this.#send(serverMessage(requestId, { case: 'chat', value: { message: res.message } }), 'chat');
      },
    );
  }

  /** One request to a service on behalf of this socket: the reply goes to `onReply`, a failure to the client as an error with the requestId. */
  /** This session's access to its meeting's Janus room (svc.media.join); `reconnect`: the room moved, leave the old node. */
  #sfuAccess(requestId: string, reconnect: boolean): void {
    if (!this.#isSfu) throw new ServiceError('not_sfu', 'this meeting runs peer to peer');
    this.#ask(requestId, this.#ctx.services.media.mediaJoin({ meetingId: this.meetingId, sessionId: this.sessionId, userId: this.userId }), (res) => {
      if (!res.access || this.#state !== 'joined') return;
      this.#send(serverMessage(requestId, { case: 'sfuAccess', value: { ...res.access, reconnect } }), 'sfuAccess');
    });
  }

  #ask<R>(requestId: string, reply: Promise<R>, onReply: (res: R) => void): void {
    reply.then(onReply, (err: unknown) => this.#sendError(requestId, this.#asServiceError(err)));
  }

  /**
   * A whiteboard update: rate-limited here (a flood costs a token check, not a transaction),
   * stored by the participant service, then acknowledged to the sender (which keeps it until
   * then and sends it again after a resume: Yjs updates apply idempotently). The others get it
   * from board.updated.
   */
  #boardUpdate(requestId: string, update: SendBoardUpdate): void {
    if (!this.#boardBucket.take()) {
      throw new ServiceError('rate_limited', `at most ${this.#ctx.config.BOARD_UPDATES_PER_SECOND} board updates per second`, {
        field: 'update',
        retryAfterSeconds: 1,
      });
    }
    this.#ask(
      requestId,
      this.#ctx.services.participants.boardAppend({ meetingId: this.meetingId, userId: this.userId, sessionId: this.sessionId, update: update.update }),
      (res) => this.#send(serverMessage(requestId, { case: 'boardAck', value: { sizeBytes: res.sizeBytes } }), 'boardAck'),
    );
  }

  /**
   * The state vector exchange, on opening the board and after every resume: the reply carries
   * what the client lacks and the stored state vector (the client sends back what the board
   * lacks). Updates are forwarded from now on; one that crosses the reply applies twice,
   * which Yjs makes harmless.
   */
  #boardSync(requestId: string, sync: SyncBoard): void {
    this.#boardOpen = true;
    this.#ask(
      requestId,
      this.#ctx.services.participants.boardState({ meetingId: this.meetingId, userId: this.userId, stateVector: sync.stateVector }),
      (res) => {
        if (res.state) this.#send(serverMessage(requestId, { case: 'boardState', value: res.state }), 'boardState');
      },
    );
  }

  /** The tutor locks, unlocks or clears the board; the service checks who is asking. The tutor gets the clearing update, then the reply. */
  #boardControl(requestId: string, control: ControlBoard): void {
    this.#ask(
      requestId,
      this.#ctx.services.participants.boardControl({
        meetingId: this.meetingId,
        userId: this.userId,
        sessionId: this.sessionId,
        locked: control.locked,
        clear: control.clear,
      }),
      (res) => {
        const by = { meetingId: this.meetingId, sessionId: this.sessionId, userId: this.userId };
        if (res.update.length > 0) this.#push({ case: 'boardUpdate', value: { ...by, update: res.update } });
        const value = { meetingId: this.meetingId, locked: res.locked, cleared: control.clear, byUserId: this.userId, bySessionId: this.sessionId };
        this.#send(serverMessage(requestId, { case: 'boardControl', value }), 'boardControl');
      },
    );
  }

  /** A call quality sample for the lesson record; no reply on success. */
  #qualityReport(requestId: string, report: SendQualityReport): void {
    if (!this.#qualityBucket.take()) {
      throw new ServiceError('rate_limited', `at most ${this.#ctx.config.QUALITY_REPORTS_PER_MINUTE} quality reports per minute`, { retryAfterSeconds: 10 });
    }
    this.#ask(
      requestId,
      this.#ctx.services.participants.qualityReport({ meetingId: this.meetingId, userId: this.userId, sessionId: this.sessionId, sample: report.sample }),
      () => {},
    );
  }

  /**
   * After every welcome, join and resume alike: what was said so far, and what this socket may
   * have missed while it was away. Sent after the welcome so the join itself waits for nothing.
   */
  async #sendChatHistory(): Promise<void> {
    try {
      const res = await this.#ctx.services.participants.chatHistory({ meetingId: this.meetingId, userId: this.userId });
      this.#push({ case: 'chatHistory', value: { messages: res.messages, truncated: res.truncated } });
    } catch (err) {
      // The call goes on without it; the client is told, and a resume asks again.
      this.#sendError('', this.#asServiceError(err));
    }
  }

  async #leave(requestId: string): Promise<void> {
    this.#leaving = true;
    try {
      await this.#ctx.services.participants.leave({ meetingId: this.meetingId, sessionId: this.sessionId, userId: this.userId });
      this.#presenceSettled = true;
    } catch (err) {
      // Close anyway: the client wants out. Without a recorded leave, the disconnect and its grace period end the session.
      this.#sendError(requestId, this.#asServiceError(err));
    }
    this.close(closeCodes.normal, 'left', 'leave');
  }

  #onDeliver = (err: Error | null, msg: Msg): void => {
    if (err || this.#state !== 'joined') return;
    const envelope = readEnvelope(msg.data);
    if (!envelope) {
      this.#logger.warn('undecodable signal delivery dropped');
      return;
    }
    if (envelope.meetingId !== this.meetingId) {
      this.#logger.warn({ envelopeMeetingId: envelope.meetingId }, 'signal for another meeting dropped');
      return;
    }
    if (envelope.errorCode) {
      // Signaling refused our own earlier message: tell the client which one.
      const code = isErrorCodeName(envelope.errorCode) ? envelope.errorCode : 'internal';
      this.#sendError(envelope.requestId, new ServiceError(code, `signal to ${envelope.toSessionId} was not delivered`));
      return;
    }
    if (envelope.signal === undefined) return;
    this.deliverSignal(envelope.fromSessionId, envelope.signal, envelope.seq);
  };

  deliverSignal(fromSessionId: string, signal: unknown, seq: number): void {
    if (this.#state !== 'joined') return;
    this.#sequencer.push(fromSessionId, signal, seq);
  }

  #onMeetingEvent = (e: MeetingEvent): void => {
    if (this.#state === 'joining') {
      if (this.#buffer && this.#buffer.length < maxBufferedEvents) this.#buffer.push(e);
      return;
    }
    if (this.#state !== 'joined') return;
    switch (e.type) {
      case 'joined':
        if (e.participant.sessionId !== this.sessionId) this.#push({ case: 'peerJoined', value: { participant: e.participant } });
        return;
      case 'left':
        if (e.participant.sessionId === this.sessionId) {
          if (e.reason === 'removed') {
            this.#removed(e.removedByUserId);
            return;
          }
          // Our own session ended elsewhere (timed out, ended by the participant service): this socket has nothing left to do.
          this.gone();
          return;
        }
        this.#sequencer.forget(e.participant.sessionId);
        this.viaSignalingUntil.delete(e.participant.sessionId);
        this.#push({ case: 'peerLeft', value: { participant: e.participant, reason: e.reason } });
        return;
      case 'mute':
        this.#push({ case: 'muteChanged', value: e.change });
        return;
      case 'chat':
        // The sender has its copy as the reply to its send.
        if (e.message.sessionId !== this.sessionId) this.#push({ case: 'chat', value: { message: e.message } });
        return;
      case 'unmuteAsked':
        // Every gateway of the meeting hears the ask; only the target's socket is told.
        if (e.asked.targetSessionId === this.sessionId) this.#push({ case: 'unmuteAsked', value: e.asked });
        return;
      case 'board':
        // The sender has its ack. A socket that never opened the board gets one update every
        // few seconds, so its user sees that someone is drawing; it syncs the rest when it opens.
        if (e.update.sessionId === this.sessionId) return;
        if (this.#boardOpen) this.#push({ case: 'boardUpdate', value: e.update });
        else if (this.#ctx.now() - this.#boardHintAt >= boardHintEveryMs) {
          this.#boardHintAt = this.#ctx.now();
          this.#push({ case: 'boardUpdate', value: e.update });
        }
        return;
      case 'boardControl':
        // The tutor's session has it as the reply to its request.
        if (e.control.bySessionId !== this.sessionId) this.#push({ case: 'boardControl', value: e.control });
        return;
      case 'roomMoved':
        // Generation 1 is the room's first placement, which every session learnt with its welcome.
        if (this.#isSfu && e.generation > 1) this.#sfuAccess('', true);
        return;
      case 'ended':
        this.#presenceSettled = true;
        this.#push({ case: 'meetingEnded', value: { meetingId: this.meetingId, reason: e.reason } });
        this.close(closeCodes.normal, 'meeting ended', 'meeting_ended');
        return;
    }
  };

  /** The tutor removed this session: say why, then close with a code that tells the client not to come back. */
  #removed(byUserId: string): void {
    this.#presenceSettled = true;
    this.#push({ case: 'removed', value: { meetingId: this.meetingId, byUserId, message: removedFromLessonMessage } });
    this.close(closeCodes.removed, 'removed by the tutor', 'removed');
  }

  /** Another socket on this process resumed the same session: this one is stale; the session lives on there. */
  #supersede(): void {
    this.#presenceSettled = true;
    this.close(closeCodes.superseded, 'session resumed on another connection', 'superseded');
  }

  #push(kind: ServerKind): void {
    this.#send(serverMessage('', kind), kind.case ?? 'none');
  }

  #send(text: string, kind: string): void {
    const ws = this.ws;
    if (ws.readyState !== WebSocket.OPEN) return;
    if (ws.bufferedAmount > this.#ctx.config.WS_SEND_BUFFER_BYTES) {
      // A client that does not read is dropped rather than held in memory; it resumes when it reconnects.
      this.#logger.info({ bufferedAmount: ws.bufferedAmount }, 'dropping slow consumer');
      this.terminate('slow_consumer');
      return;
    }
    ws.send(text);
    this.#ctx.metrics.sent.add(1, { kind });
  }

  #sendError(requestId: string, error: ServiceError): void {
    this.#ctx.metrics.errors.add(1, { code: error.code });
    this.#send(errorMessage(requestId, error), 'error');
  }

  #asServiceError(err: unknown): ServiceError {
    if (err instanceof ServiceError) return err;
    this.#logger.error({ err }, 'websocket message failed');
    return new ServiceError('internal', 'internal error');
  }

  /**
   * A socket lives no longer than the token it said hello with: at `exp` (plus the clock
   * tolerance the verifier allows, so the same token cannot simply be accepted again) it is
   * closed with tokenExpired, and the client resumes the session with a fresh token. A user who
   * signed out has no fresh token to give. Wall-clock time: `exp` is seconds since the epoch.
   */
  #closeAtExpiry(exp: number | undefined): void {
    if (exp === undefined) return;
    const ms = (exp + this.#ctx.config.JWT_CLOCK_TOLERANCE_SECONDS) * 1000 - Date.now();
    // setTimeout keeps at most ~24.8 days; a token outliving that is re-armed when it fires.
    this.#expiryTimer = setTimeout(
      () => {
        if (ms > maxTimerMs) return this.#closeAtExpiry(exp);
        this.close(closeCodes.tokenExpired, 'access token expired', 'token_expired');
      },
      Math.max(0, Math.min(ms, maxTimerMs)),
    );
    this.#expiryTimer.unref();
  }

  #cleanup(): void {
    clearTimeout(this.#helloTimer);
    clearTimeout(this.#expiryTimer);
    this.#sequencer.close();
    this.#deliver?.unsubscribe();
    this.#deliver = undefined;
    this.#releaseMeeting?.();
    this.#releaseMeeting = undefined;
    this.#buffer = undefined;
    if (this.sessionId && this.#ctx.sessions.get(this.sessionId) === this) this.#ctx.sessions.delete(this.sessionId);
  }
}

/** The socket closed while its hello was in flight. */
class SocketGone extends Error {
  override readonly name = 'SocketGone';
}
