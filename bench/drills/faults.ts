/**
 * The faults, one at a time: what breaks, for how long, and how it is undone. A fault's
 * `healedAt` is when the thing came back (the process ready again, the rule removed); for a
 * fault the system must ride out while it lasts (UDP blocked: TURN over TCP takes over), the
 * recovery is measured from its start instead.
 */
import { streams } from '@lessoncall/proto';
import type { NamespacedCall } from './calls';
import type { Namespace } from './netns';
import type { DrillStack, Replica } from './stack';

export interface Fault {
  name: string;
  kind: 'process' | 'nats' | 'postgres' | 'network';
  /** Recovery target after it ends: media back within this (issue 12: 5 s, 10 s for a NATS outage). */
  mediaTargetMs: number;
  /** Measure recovery from the fault's start: the system must heal while it lasts. */
  recoverDuring?: boolean;
  inject(): Promise<void>;
  heal(): Promise<void>;
  holdMs: number;
}

const processFault = (r: Replica, signal: 'SIGKILL' | 'SIGTERM', holdMs: number): Fault => ({
  name: `${signal === 'SIGKILL' ? 'kill -9' : 'SIGTERM (drain)'} ${r.id}`,
  kind: 'process',
  mediaTargetMs: 5_000,
  holdMs,
  inject: () => r.kill(signal),
  heal: () => r.start(),
});

export function processFaults(s: DrillStack, which: 'all' | 'short'): Fault[] {
  if (which === 'short') {
    return [processFault(s.of('participant')[0] as Replica, 'SIGKILL', 2_000), processFault(s.gateways[0] as Replica, 'SIGTERM', 1_000)];
  }
  const services = ['meeting', 'participant', 'signaling', 'turn'].flatMap((name) => s.of(name).map((r) => processFault(r, 'SIGKILL', 2_000)));
  return [...services, ...s.gateways.map((g) => processFault(g, 'SIGKILL', 2_000)), processFault(s.gateways[0] as Replica, 'SIGTERM', 1_000)];
}

export function natsNodeFault(s: DrillStack): Fault {
  const cluster = s.h.cluster;
  if (!cluster) throw new Error('no NATS cluster');
  let node = cluster.nodes[0];
  return {
    name: 'NATS: the BOOKINGS leader killed (quorum holds)',
    kind: 'nats',
    mediaTargetMs: 5_000,
    holdMs: 10_000,
    async inject() {
      // The worst node to lose: the one leading the bookings stream.
      const leader = (await s.h.jsm.streams.info(streams.bookings.name).catch(() => undefined))?.cluster?.leader;
      node = cluster.nodes.find((n) => n.name === leader) ?? cluster.nodes[0];
      await node?.kill();
    },
    async heal() {
      await node?.start();
      await cluster.jetStreamReady(30_000);
    },
  };
}

export function natsOutageFault(s: DrillStack): Fault {
  const cluster = s.h.cluster;
  if (!cluster) throw new Error('no NATS cluster');
  return {
    name: 'NATS: all three nodes down 10 s',
    kind: 'nats',
    mediaTargetMs: 10_000,
    holdMs: 10_000,
    inject: async () => {
      await Promise.all(cluster.nodes.map((n) => n.kill()));
    },
    async heal() {
      await Promise.all(cluster.nodes.map((n) => n.start()));
      await cluster.jetStreamReady(30_000);
    },
  };
}

export function postgresFault(s: DrillStack): Fault {
  const pg = s.h.postgres;
  if (!pg) throw new Error('no Postgres');
  return { name: 'Postgres stopped 10 s', kind: 'postgres', mediaTargetMs: 5_000, holdMs: 10_000, inject: () => pg.halt(), heal: () => pg.resume() };
}

/** iptables rules in the namespace; removed on heal (and with the namespace, whatever happens). */
const rules = (ns: Namespace, name: string, holdMs: number, ruleSet: string[][], extra: Partial<Fault> = {}): Fault => ({
  name,
  kind: 'network',
  mediaTargetMs: 5_000,
  holdMs,
  async inject() {
    for (const r of ruleSet) ns.iptables(r);
  },
  async heal() {
    ns.clear();
  },
  ...extra,
});

export function networkFaults(ns: Namespace, call: NamespacedCall, which: 'all' | 'short'): Fault[] {
  const dev = ns.device;
  const loss = (p: number) => [
    ['-A', 'OUTPUT', '-o', dev, '-m', 'statistic', '--mode', 'random', '--probability', String(p), '-j', 'DROP'],
    ['-A', 'INPUT', '-i', dev, '-m', 'statistic', '--mode', 'random', '--probability', String(p), '-j', 'DROP'],
  ];
  const lossFault = rules(ns, "network: 5 % random loss on one peer's link (15 s)", 15_000, loss(0.05), { recoverDuring: true });
  if (which === 'short') return [lossFault];
  const shaped = (name: string, shape: Parameters<typeof call.turnRelay.shape>[0]): Fault => ({
    name,
    kind: 'network',
    mediaTargetMs: 5_000,
    holdMs: 15_000,
    recoverDuring: true,
    inject: async () => call.turnRelay.shape(shape),
    heal: async () => call.turnRelay.shape({}),
  });
  return [
    rules(ns, "network: one peer's traffic blacked out 10 s", 10_000, [
      ['-A', 'OUTPUT', '-o', dev, '-j', 'DROP'],
      ['-A', 'INPUT', '-i', dev, '-j', 'DROP'],
    ]),
    lossFault,
    rules(
      ns,
      'network: UDP to coturn blocked (TURN over TCP takes over; 20 s)',
      20_000,
      [['-A', 'OUTPUT', '-o', dev, '-p', 'udp', '-d', ns.hostIp, '--dport', String(call.turnRelayPort), '-j', 'DROP']],
      { recoverDuring: true },
    ),
    shaped('network: +150 ms delay ± 50 ms jitter to coturn (15 s)', { delayMs: 150, jitterMs: 50 }),
    shaped('network: 300 kbit/s cap to coturn (15 s)', { rateKbps: 300 }),
  ];
}
