import { decode, encode, type Logger, type Msg, type NatsConnection } from '@lessoncall/kit';
import { isSubjectToken, type SignalEnvelope, SignalEnvelopeSchema, subjects } from '@lessoncall/proto';
import { headers as natsHeaders, type MsgHdrs } from '@nats-io/nats-core';
import type { SignalingConfig } from './config';
import type { RejectReason, SignalingMetrics } from './metrics';
import type { Roster } from './roster';
import type { RosterSync } from './roster-sync';
import { envelopeProblem } from './validate';

/**
 * Decides each signal on signal.route.<meeting>: delivered to signal.deliver.<target> when sender
 * and target are live sessions of the meeting, else refused back to the sender with a code. A
 * target the roster does not know is looked up once (RosterSync.recheck) before the refusal;
 * signals of one sender leave in the order they came, even when one of them waits for that.
 */
export class SignalRelay {
  readonly #nc: NatsConnection;
  readonly #roster: Roster;
  readonly #sync: RosterSync;
  readonly #config: SignalingConfig;
  readonly #metrics: SignalingMetrics;
  readonly #logger: Logger;
  /** Per sender, the signal (or chain of them) still waiting for a re-read. */
  readonly #waiting = new Map<string, Promise<void>>();

  constructor(nc: NatsConnection, roster: Roster, sync: RosterSync, config: SignalingConfig, metrics: SignalingMetrics, logger: Logger) {
    this.#nc = nc;
    this.#roster = roster;
    this.#sync = sync;
    this.#config = config;
    this.#metrics = metrics;
    this.#logger = logger;
  }

  /** A message on signal.route.<meeting>. */
  onRoute(msg: Msg): void {
    const started = performance.now();
    if (msg.data.length > this.#config.SIGNAL_MAX_MESSAGE_BYTES) {
      // Still read, to tell the sender; NATS' max_payload bounds the work.
      const env = tryDecode(msg.data);
      this.#reject(env, env ? 'message_too_large' : 'malformed', `message is larger than ${this.#config.SIGNAL_MAX_MESSAGE_BYTES} bytes`, msg.headers);
      return;
    }
    const env = tryDecode(msg.data);
    if (!env) {
      this.#reject(undefined, 'malformed', 'body is not a SignalEnvelope', msg.headers);
      return;
    }
    if (!isSubjectToken(env.fromSessionId)) {
      this.#reject(env, 'invalid_request', 'fromSessionId is not a session id', msg.headers);
      return;
    }
    const ahead = this.#waiting.get(env.fromSessionId);
    if (ahead) {
      this.#enqueue(
        env.fromSessionId,
        ahead.then(() => this.#route(msg, env, started)),
      );
      return;
    }
    const pending = this.#route(msg, env, started);
    if (pending) this.#enqueue(env.fromSessionId, pending);
  }

  /** Resolves once every signal taken so far is decided, those waiting for a re-read included. */
  async settled(): Promise<void> {
    while (this.#waiting.size > 0) await Promise.all([...this.#waiting.values()]);
  }

  #route(msg: Msg, env: SignalEnvelope, started: number): Promise<void> | undefined {
    const problem = envelopeProblem(env, subjects.meetingOfSignalRoute(msg.subject), this.#config);
    if (problem) {
      this.#reject(env, problem.code, problem.message, msg.headers);
      return undefined;
    }
    if (this.#decide(msg, env, started, false)) return undefined;
    // A miss may be a session that joined a moment ago and whose participant.joined has not
    // reached this replica yet: ask the participant service before refusing.
    return this.#sync.recheck(env.meetingId).then(() => {
      this.#decide(msg, env, started, true);
    });
  }

  /** Delivers when both ends are live in the meeting; true when decided without waiting. */
  #decide(msg: Msg, env: SignalEnvelope, started: number, final: boolean): boolean {
    const { meetingId, fromSessionId: from, toSessionId: to } = env;
    const fromLive = this.#roster.isLive(meetingId, from);
    const toLive = this.#roster.isLive(meetingId, to);
    if (fromLive && toLive) {
      this.#nc.publish(subjects.signalDeliver(to), msg.data, { headers: traceHeaders(msg.headers) });
      this.#metrics.routed.add(1, { type: env.signal?.type ?? '' });
      this.#metrics.routeSeconds.record((performance.now() - started) / 1000);
      return true;
    }
    if (!final) return false;
    if (!fromLive) this.#reject(env, 'not_in_meeting', 'the sender is not a live session of the meeting', msg.headers);
    else if (this.#roster.meetingOf(to) !== undefined) this.#reject(env, 'not_in_meeting', 'the target is a session of another meeting', msg.headers);
    else this.#reject(env, 'session_not_found', 'the target is not a live session', msg.headers);
    return true;
  }

  #reject(env: SignalEnvelope | undefined, reason: RejectReason, message: string, h: MsgHdrs | undefined): void {
    this.#metrics.rejected.add(1, { reason });
    const log = { meetingId: env?.meetingId, sessionId: env?.fromSessionId, toSessionId: env?.toSessionId, reason };
    if (reason === 'not_in_meeting' || reason === 'session_not_found') this.#logger.debug(log, `signal dropped: ${message}`);
    else this.#logger.warn(log, `signal dropped: ${message}`);
    if (!env || reason === 'malformed' || !isSubjectToken(env.fromSessionId)) return;
    const body = encode(SignalEnvelopeSchema, {
      meetingId: env.meetingId,
      fromSessionId: env.fromSessionId,
      toSessionId: env.toSessionId,
      requestId: env.requestId,
      errorCode: reason,
    });
    this.#nc.publish(subjects.signalDeliver(env.fromSessionId), body, { headers: traceHeaders(h) });
  }

  #enqueue(from: string, p: Promise<void>): void {
    const q: Promise<void> = p
      .catch((err: unknown) => this.#logger.error({ err, sessionId: from }, 'routing failed'))
      .finally(() => {
        if (this.#waiting.get(from) === q) this.#waiting.delete(from);
      });
    this.#waiting.set(from, q);
  }
}

function tryDecode(data: Uint8Array): SignalEnvelope | undefined {
  try {
    return decode(SignalEnvelopeSchema, data);
  } catch {
    return undefined;
  }
}

/**
 * Carries the sender's trace context on. Signaling is a relay at thousands of messages a
 * second, so it forwards `traceparent` rather than opening a span per ICE candidate.
 */
function traceHeaders(incoming: MsgHdrs | undefined): MsgHdrs | undefined {
  const traceparent = incoming?.get('traceparent');
  if (!traceparent) return undefined;
  const h = natsHeaders();
  h.set('traceparent', traceparent);
  const tracestate = incoming?.get('tracestate');
  if (tracestate) h.set('tracestate', tracestate);
  return h;
}
