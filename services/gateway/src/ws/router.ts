import { ServiceError } from '@lessoncall/kit';
import { subjects } from '@lessoncall/proto';
import type { GatewayConfig } from '../config';
import type { MeetingHub } from './meeting-hub';
import type { WsMetrics } from './metrics';
import type { SignalOutbox } from './outbox';
import { renderEnvelope } from './signal-wire';

/** What the router needs of a joined socket on this process. */
export interface SignalEndpoint {
  readonly meetingId: string;
  readonly sessionId: string;
  readonly joined: boolean;
  /** Hands a signal (its proto3 JSON) to this socket's client, in its sender's order. */
  deliverSignal(fromSessionId: string, signal: unknown, seq: number): void;
  /** Peers whose signals go through signaling until the time (ms, `now`) given: they stay in order. */
  readonly viaSignalingUntil: Map<string, number>;
}

export interface SignalRouterOptions {
  config: Pick<GatewayConfig, 'SIGNAL_DIRECT' | 'SIGNAL_STICKY_MS'>;
  hub: MeetingHub;
  outbox: SignalOutbox;
  /** Joined sessions on this process by sessionId. */
  sessions: ReadonlyMap<string, SignalEndpoint>;
  metrics: WsMetrics;
  now: () => number;
  /** False while the NATS connection is down: signals that need it are refused, not buffered. */
  connected: () => boolean;
}

/**
 * Chooses how a signal travels, cheapest first, with the same rule on every path — sender and
 * target are live sessions of the same meeting:
 *   - local: the target's socket is on this process, joined to the meeting: handed over in
 *     memory;
 *   - direct: the roster view has the target live in the meeting: one NATS hop, to
 *     signal.deliver.<target>, where the gateway holding it listens;
 *   - signaling: the view cannot tell (the target joined a moment ago, events were missed):
 *     signal.route.<meeting>, and the signaling service decides from its own roster, re-reading
 *     the participant service, and answers a refusal with a typed error.
 * A signal is never dropped here without the sender being told: a full queue or a NATS outage
 * answers `unavailable`. What is lost further on (a socket or a gateway gone mid-flight) shows
 * as a gap in the sender's numbering at the receiver, which restarts ICE.
 */
export class SignalRouter {
  readonly #o: SignalRouterOptions;

  constructor(options: SignalRouterOptions) {
    this.#o = options;
  }

  /**
   * `signal` is the Signal's proto3 JSON as the client sent it, already validated. Throws a
   * ServiceError (answered to the sender) when the signal cannot be taken.
   */
  route(from: SignalEndpoint, toSessionId: string, signal: unknown, seq: number, requestId: string, onError: (err: ServiceError) => void): void {
    const { hub, outbox, sessions, metrics, config } = this.#o;
    const meetingId = from.meetingId;
    const local = sessions.get(toSessionId);
    if (local?.joined && local.meetingId === meetingId) {
      local.deliverSignal(from.sessionId, signal, seq);
      metrics.signalsRouted.add(1, { path: 'local' });
      return;
    }
    if (!this.#o.connected()) {
      metrics.signalsRefused.add(1, { reason: 'disconnected' });
      throw new ServiceError('unavailable', 'signaling is unavailable; retry', { retryAfterSeconds: 1 });
    }
    const now = this.#o.now();
    const until = from.viaSignalingUntil.get(toSessionId);
    const sticky = until !== undefined && until > now;
    if (until !== undefined && !sticky) from.viaSignalingUntil.delete(toSessionId);
    const direct = config.SIGNAL_DIRECT && !sticky && hub.isLive(meetingId, toSessionId);
    const envelope = renderEnvelope({ meetingId, fromSessionId: from.sessionId, toSessionId, requestId, seq }, signal);
    const failed = () => onError(new ServiceError('unavailable', 'signaling is unavailable; retry', { retryAfterSeconds: 1 }));
    const queued = direct
      ? outbox.publish(subjects.signalDeliver(toSessionId), envelope, failed)
      : outbox.publish(subjects.signalRoute(meetingId), envelope, failed);
    if (!queued) {
      metrics.signalsRefused.add(1, { reason: 'overloaded' });
      throw new ServiceError('unavailable', 'the gateway is overloaded; retry', { retryAfterSeconds: 1 });
    }
    metrics.signalsRouted.add(1, { path: direct ? 'direct' : 'signaling' });
    if (!direct && config.SIGNAL_DIRECT) {
      from.viaSignalingUntil.set(toSessionId, now + config.SIGNAL_STICKY_MS);
      hub.recheck(meetingId);
    }
  }
}
