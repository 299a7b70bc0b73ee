import {
  type Clock,
  createRuntime,
  decode,
  encode,
  type Logger,
  type Msg,
  readCloudEvent,
  type Runtime,
  type Subscription,
  systemClock,
  client,
} from '@lessoncall/kit';
import {
  eventTypeOf,
  isSubjectToken,
  ParticipantJoinedSchema,
  ParticipantLeftSchema,
  queues,
  type SignalEnvelope,
  SignalEnvelopeSchema,
  subjects,
  ParticipantService,
} from '@lessoncall/proto';
import { headers as natsHeaders, type MsgHdrs } from '@nats-io/nats-core';
import type { SignalingConfig } from './config';
import { createSignalingMetrics, type RejectReason } from './metrics';
import { Roster } from './roster';
import { envelopeProblem } from './validate';

export interface SignalingDeps {
  logger?: Logger;
  /** Tombstone expiry. Re-check rate limits use the monotonic clock: they are not behaviour under test. */
  clock?: Clock;
  telemetry?: false;
}

export interface SignalingService {
  runtime: Runtime;
  roster: Roster;
  /** True once the roster has been read in full from the participant service. */
  isRebuilt(): boolean;
  /** Re-reads every meeting's roster now; false if the participant service did not answer. */
  rebuild(): Promise<boolean>;
  stop(): Promise<void>;
}

/**
 * Relays WebRTC negotiation between the live sessions of one meeting, and nothing else.
 *
 * Gateways send most signals straight to the target's gateway, deciding with this service's
 * `Roster` fed by the same events (see the gateway's MeetingHub); what reaches signal.route is
 * what a gateway could not decide — a target that joined a moment ago, a view that is being
 * re-read after a reconnect, a session that is not in the meeting at all — and this service is
 * the one that decides it, re-reading the participant service before it refuses.
 *
 * Every replica keeps the whole roster: all of them subscribe to participant.joined/left with no
 * queue group (plain core subscriptions — JetStream-stored events reach core subscribers too;
 * the roster is rebuilt from the participant service at start-up and after a reconnect, so the
 * stream's replay would add nothing but a consumer per replica). Signals are load-balanced in
 * the `signaling` queue group, and any replica decides the same way.
 */
export async function startSignalingService(config: SignalingConfig, deps: SignalingDeps = {}): Promise<SignalingService> {
  const clock = deps.clock ?? systemClock;
  const roster = new Roster(clock, config.ROSTER_TOMBSTONE_TTL_MS);
  let rebuilt = false;
  const runtime = await createRuntime('signaling', config, {
    logger: deps.logger,
    ...(deps.telemetry === false ? { telemetry: false } : {}),
    checks: {
      roster: async () => {
        if (!rebuilt) throw new Error('roster not read from the participant service yet');
      },
    },
  });
  const { nc, logger } = runtime;
  const metrics = createSignalingMetrics(runtime.registry, roster);
  let stopped = false;
  const timers = new Set<NodeJS.Timeout>();
  const later = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        timers.delete(t);
        resolve();
      }, ms);
      timers.add(t);
    });

  // --- the roster -------------------------------------------------------------------------

  const onParticipantEvent = (msg: Msg) => {
    const [, kind, meetingId] = msg.subject.split('.');
    if (kind !== 'joined' && kind !== 'left') return;
    try {
      readCloudEvent(msg.headers, eventTypeOf(msg.subject));
      const participant = kind === 'joined' ? decode(ParticipantJoinedSchema, msg.data).participant : decode(ParticipantLeftSchema, msg.data).participant;
      if (!participant || participant.meetingId !== meetingId || !isSubjectToken(participant.sessionId)) {
        throw new Error('participant missing or not of the subject meeting');
      }
      if (kind === 'joined') {
        if (!roster.join(meetingId, participant.sessionId)) logger.debug({ meetingId, sessionId: participant.sessionId }, 'joined after its left: ignored');
      } else {
        roster.leave(meetingId, participant.sessionId);
      }
      metrics.events.inc({ type: kind });
    } catch (err) {
      metrics.events.inc({ type: 'invalid' });
      logger.warn({ err, subject: msg.subject, meetingId }, 'participant event ignored');
    }
  };

  // Every call passes its own timeout: a rebuild may wait longer than a recheck on the hot path.
  const participants = client(nc, ParticipantService, { timeoutMs: config.ROSTER_RECHECK_TIMEOUT_MS });
  const liveSessions = (meetingId: string, timeoutMs: number) => participants.liveSessions({ meetingId }, { timeoutMs });

  let rebuilding: Promise<boolean> | undefined;
  const rebuild = (trigger: 'start' | 'reconnect' | 'resync' | 'manual'): Promise<boolean> => {
    rebuilding ??= (async () => {
      const mark = roster.mark();
      try {
        const res = await liveSessions('', config.ROSTER_REBUILD_TIMEOUT_MS);
        const changed = roster.applySnapshot(res.sessions, mark);
        rebuilt = true;
        metrics.rebuilds.inc({ trigger, outcome: 'ok' });
        logger.info({ trigger, ...changed, ...roster.size }, 'roster read from the participant service');
        return true;
      } catch (err) {
        metrics.rebuilds.inc({ trigger, outcome: 'error' });
        logger.warn({ err, trigger }, 'could not read the roster from the participant service');
        return false;
      } finally {
        rebuilding = undefined;
      }
    })();
    return rebuilding;
  };
  const rebuildUntilDone = async (trigger: 'start' | 'reconnect') => {
    while (!stopped) {
      if (await rebuild(trigger)) return;
      await later(config.ROSTER_REBUILD_RETRY_MS);
    }
  };

  const rechecks = new Map<string, Promise<void>>();
  const lastRecheck = new Map<string, number>();
  /** Re-reads one meeting's roster (a signal named a session this replica has not seen). */
  const recheck = (meetingId: string): Promise<void> => {
    const inFlight = rechecks.get(meetingId);
    if (inFlight) return inFlight;
    const now = performance.now();
    const last = lastRecheck.get(meetingId);
    if (last !== undefined && now - last < config.ROSTER_RECHECK_MIN_INTERVAL_MS) {
      metrics.rechecks.inc({ outcome: 'skipped' });
      return Promise.resolve();
    }
    lastRecheck.set(meetingId, now);
    const mark = roster.mark();
    const p = liveSessions(meetingId, config.ROSTER_RECHECK_TIMEOUT_MS)
      .then((res) => {
        const { added, removed } = roster.applySnapshot(res.sessions, mark, meetingId);
        metrics.rechecks.inc({ outcome: added > 0 ? 'found' : 'unchanged' });
        if (added > 0 || removed > 0) logger.debug({ meetingId, added, removed }, 'meeting roster re-read');
      })
      .catch((err: unknown) => {
        // Decide on what this replica knows: a participant service that does not answer
        // cannot have let anyone join either.
        metrics.rechecks.inc({ outcome: 'error' });
        logger.warn({ err, meetingId }, 'could not re-read the meeting roster');
      })
      .finally(() => rechecks.delete(meetingId));
    rechecks.set(meetingId, p);
    return p;
  };

  // --- routing ----------------------------------------------------------------------------

  const reject = (env: SignalEnvelope | undefined, reason: RejectReason, message: string, h: MsgHdrs | undefined) => {
    metrics.rejected.inc({ reason });
    const log = { meetingId: env?.meetingId, sessionId: env?.fromSessionId, toSessionId: env?.toSessionId, reason };
    if (reason === 'not_in_meeting' || reason === 'session_not_found') logger.debug(log, `signal dropped: ${message}`);
    else logger.warn(log, `signal dropped: ${message}`);
    if (!env || reason === 'malformed' || !isSubjectToken(env.fromSessionId)) return;
    const body = encode(SignalEnvelopeSchema, {
      meetingId: env.meetingId,
      fromSessionId: env.fromSessionId,
      toSessionId: env.toSessionId,
      requestId: env.requestId,
      errorCode: reason,
    });
    nc.publish(subjects.signalDeliver(env.fromSessionId), body, { headers: traceHeaders(h) });
  };

  /** Delivers when both ends are live in the meeting; true when decided without waiting. */
  const decide = (msg: Msg, env: SignalEnvelope, started: number, final: boolean): boolean => {
    const { meetingId, fromSessionId: from, toSessionId: to } = env;
    const fromLive = roster.isLive(meetingId, from);
    const toLive = roster.isLive(meetingId, to);
    if (fromLive && toLive) {
      nc.publish(subjects.signalDeliver(to), msg.data, { headers: traceHeaders(msg.headers) });
      metrics.routed.inc({ type: env.signal?.type ?? '' });
      metrics.routeSeconds.observe((performance.now() - started) / 1000);
      return true;
    }
    if (!final) return false;
    if (!fromLive) reject(env, 'not_in_meeting', 'the sender is not a live session of the meeting', msg.headers);
    else if (roster.meetingOf(to) !== undefined) reject(env, 'not_in_meeting', 'the target is a session of another meeting', msg.headers);
    else reject(env, 'session_not_found', 'the target is not a live session', msg.headers);
    return true;
  };

  const route = (msg: Msg, env: SignalEnvelope, started: number): Promise<void> | undefined => {
    const problem = envelopeProblem(env, subjects.meetingOfSignalRoute(msg.subject), config);
    if (problem) {
      reject(env, problem.code, problem.message, msg.headers);
      return undefined;
    }
    if (decide(msg, env, started, false)) return undefined;
    // A miss may be a session that joined a moment ago and whose participant.joined has not
    // reached this replica yet: ask the participant service before refusing.
    return recheck(env.meetingId).then(() => {
      decide(msg, env, started, true);
    });
  };

  // Signals of one sender leave in the order they came, even when one waits for a re-check.
  const waiting = new Map<string, Promise<void>>();
  const enqueue = (from: string, p: Promise<void>) => {
    const q: Promise<void> = p
      .catch((err: unknown) => logger.error({ err, sessionId: from }, 'routing failed'))
      .finally(() => {
        if (waiting.get(from) === q) waiting.delete(from);
      });
    waiting.set(from, q);
  };

  const onRoute = (msg: Msg) => {
    const started = performance.now();
    if (msg.data.length > config.SIGNAL_MAX_MESSAGE_BYTES) {
      // Still read, to tell the sender; NATS' max_payload bounds the work.
      const env = tryDecode(msg.data);
      reject(env, env ? 'message_too_large' : 'malformed', `message is larger than ${config.SIGNAL_MAX_MESSAGE_BYTES} bytes`, msg.headers);
      return;
    }
    const env = tryDecode(msg.data);
    if (!env) {
      reject(undefined, 'malformed', 'body is not a SignalEnvelope', msg.headers);
      return;
    }
    if (!isSubjectToken(env.fromSessionId)) {
      reject(env, 'invalid_request', 'fromSessionId is not a session id', msg.headers);
      return;
    }
    const ahead = waiting.get(env.fromSessionId);
    if (ahead) {
      enqueue(
        env.fromSessionId,
        ahead.then(() => route(msg, env, started)),
      );
      return;
    }
    const pending = route(msg, env, started);
    if (pending) enqueue(env.fromSessionId, pending);
  };

  // --- start: events first, then the snapshot, so that nothing falls between ---------------

  const subs: Subscription[] = [];
  subs.push(
    nc.subscribe(subjects.participantAny, {
      callback: (err, msg) => (err ? logger.error({ err }, 'participant events subscription') : onParticipantEvent(msg)),
    }),
  );
  await nc.flush();
  if (!(await rebuild('start'))) void rebuildUntilDone('start');
  subs.push(
    nc.subscribe(subjects.signalRouteAny, {
      queue: queues.signaling,
      callback: (err, msg) => (err ? logger.error({ err }, 'signal.route subscription') : onRoute(msg)),
    }),
  );
  await nc.flush();

  // Events published while we were disconnected are lost to a core subscription: re-read.
  void (async () => {
    for await (const s of nc.status()) {
      if (stopped) return;
      if (s.type === 'reconnect') void rebuildUntilDone('reconnect');
    }
  })().catch(() => {});

  const housekeeping = setInterval(() => {
    roster.sweep();
    const horizon = performance.now() - config.ROSTER_RECHECK_MIN_INTERVAL_MS;
    for (const [meetingId, at] of lastRecheck) if (at < horizon) lastRecheck.delete(meetingId);
  }, 60_000);
  housekeeping.unref();
  const resync =
    config.ROSTER_RESYNC_INTERVAL_MS > 0
      ? setInterval(() => {
          if (!stopped) void rebuild('resync');
        }, config.ROSTER_RESYNC_INTERVAL_MS)
      : undefined;
  resync?.unref();

  runtime.markStarted();
  logger.info({ ...roster.size, rebuilt }, 'signaling ready');
  return {
    runtime,
    roster,
    isRebuilt: () => rebuilt,
    rebuild: () => rebuild('manual'),
    async stop() {
      stopped = true;
      clearInterval(housekeeping);
      if (resync) clearInterval(resync);
      for (const t of timers) clearTimeout(t);
      await Promise.all(subs.map((s) => s.drain().catch(() => {})));
      await Promise.all([...waiting.values()]);
      await runtime.close();
    },
  };
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
