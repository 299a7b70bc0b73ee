import { type Clock, createRuntime, type Logger, type Msg, type Runtime, type Subscription, systemClock } from '@lessoncall/kit';
import { queues, subjects } from '@lessoncall/proto';
import type { SignalingConfig } from './config';
import { createSignalingMetrics } from './metrics';
import { SignalRelay } from './relay';
import { Roster } from './roster';
import { RosterSync } from './roster-sync';

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
  /**
   * Resolves once every signal this replica has taken so far is decided (delivered or refused),
   * those waiting for a roster re-read included. With a NATS flush before and after, the proof
   * that nothing more is on its way from this replica.
   */
  settled(): Promise<void>;
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
 *
 * The parts: RosterSync keeps the roster true to the participant service, SignalRelay decides
 * each signal; this function wires them to NATS and to the replica's lifecycle.
 */
export async function startSignalingService(config: SignalingConfig, deps: SignalingDeps = {}): Promise<SignalingService> {
  const roster = new Roster(deps.clock ?? systemClock, config.ROSTER_TOMBSTONE_TTL_MS);
  let sync: RosterSync | undefined;
  const runtime = await createRuntime('signaling', config, {
    logger: deps.logger,
    ...(deps.telemetry === false ? { telemetry: false } : {}),
    checks: {
      roster: async () => {
        if (!sync?.rebuilt) throw new Error('roster not read from the participant service yet');
      },
    },
  });
  const { nc, logger } = runtime;
  const metrics = createSignalingMetrics(runtime.metrics.meter, roster);
  sync = new RosterSync(nc, roster, config, metrics, logger);
  const rosterSync = sync;
  const relay = new SignalRelay(nc, roster, rosterSync, config, metrics, logger);
  let stopped = false;

  // Events first, then the snapshot, so that nothing falls between; signals only once both are in.
  const subs: Subscription[] = [];
  const listen = (subject: string, callback: (msg: Msg) => void, queue?: string) =>
    subs.push(
      nc.subscribe(subject, {
        ...(queue ? { queue } : {}),
        callback: (err, msg) => (err ? logger.error({ err, subject }, 'subscription failed') : callback(msg)),
      }),
    );
  listen(subjects.participantAny, (msg) => rosterSync.onParticipantEvent(msg));
  await nc.flush();
  if (!(await rosterSync.rebuild('start'))) void rosterSync.rebuildUntilDone('start');
  listen(subjects.signalRouteAny, (msg) => relay.onRoute(msg), queues.signaling);
  await nc.flush();

  // Events published while we were disconnected are lost to a core subscription: re-read.
  void (async () => {
    for await (const s of nc.status()) {
      if (stopped) return;
      if (s.type === 'reconnect') void rosterSync.rebuildUntilDone('reconnect');
    }
  })().catch(() => {});

  const housekeeping = setInterval(() => rosterSync.sweep(), 60_000);
  housekeeping.unref();
  const resync =
    config.ROSTER_RESYNC_INTERVAL_MS > 0
      ? setInterval(() => {
          if (!stopped) void rosterSync.rebuild('resync');
        }, config.ROSTER_RESYNC_INTERVAL_MS)
      : undefined;
  resync?.unref();

  runtime.markStarted();
  logger.info({ ...roster.size, rebuilt: rosterSync.rebuilt }, 'signaling ready');
  return {
    runtime,
    roster,
    isRebuilt: () => rosterSync.rebuilt,
    rebuild: () => rosterSync.rebuild('manual'),
    settled: () => relay.settled(),
    async stop() {
      stopped = true;
      clearInterval(housekeeping);
      if (resync) clearInterval(resync);
      rosterSync.stop();
      await Promise.all(subs.map((s) => s.drain().catch(() => {})));
      await relay.settled();
      await runtime.close();
    },
  };
}
