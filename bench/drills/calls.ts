/**
 * Live calls for the drill: pairs of real WebRTC peers relayed by coturn, signalled through the
 * gateways. Most run in this process; one call's student runs inside the drill's network
 * namespace (peer-child.ts), reaching the gateways and coturn only through relays on the veth's
 * host end, so network faults hit that peer alone.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from '@lessoncall/kit/testing';
import type { BenchMeeting } from '../lib/meetings';
import type { Namespace } from './netns';
import type { ChildCommand, ChildReply } from './peer-child';
import { DrillPeer, type PeerSnapshot } from './peer';
import { ShapedRelay } from './relay';

export interface CallPeer {
  name: string;
  snapshot(): Promise<PeerSnapshot>;
  close(): void;
}

export interface Call {
  name: string;
  meeting: BenchMeeting;
  peers: [CallPeer, CallPeer];
  close(): void;
}

const local = (name: string, p: DrillPeer): CallPeer => ({
  name,
  snapshot: async () => {
    await p.relayProtocol().catch(() => '');
    return p.snapshot();
  },
  close: () => p.close(),
});

async function waitConnected(peers: CallPeer[], timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const snaps = await Promise.all(peers.map((p) => p.snapshot()));
    if (snaps.every((s) => s.framesReceived > 0 && s.probesReceived > 0)) return;
    if (Date.now() > deadline)
      throw new Error(`call not flowing in ${timeoutMs} ms: ${JSON.stringify(snaps.map((s) => [s.connectionState, s.framesReceived, s.probesReceived]))}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** A call of two peers in this process, the tutor on one gateway and the student on the other. */
export async function localCall(name: string, meeting: BenchMeeting, gateways: string[], token: (userId: string) => Promise<string>): Promise<Call> {
  const base = { gateways, meetingId: meeting.meetingId, passcode: meeting.passcode };
  const tutor = await DrillPeer.join({ ...base, accessToken: await token(meeting.tutorId), displayName: 'Tutor' }, 0);
  tutor.polite = true;
  const student = await DrillPeer.join({ ...base, accessToken: await token(meeting.studentId), displayName: 'Student' }, 1);
  // The joiner offers to the session already there, as the web client does.
  tutor.remote = student.sessionId;
  await student.offer(tutor.sessionId);
  const peers: [CallPeer, CallPeer] = [local(`${name}/tutor`, tutor), local(`${name}/student`, student)];
  try {
    await waitConnected(peers);
  } catch (err) {
    for (const p of peers) p.close();
    throw err;
  }
  return {
    name,
    meeting,
    peers,
    close: () => {
      for (const p of peers) p.close();
    },
  };
}

export interface NamespacedCall extends Call {
  /** The relay in front of coturn that the namespaced peer's TURN traffic crosses (delay, jitter, bandwidth). */
  turnRelay: ShapedRelay;
  /** The relays' port on the namespace's side (iptables rules match it). */
  turnRelayPort: number;
}

/** A call whose student runs inside `ns`: gateways and coturn reached through relays on the host end. */
export async function namespacedCall(
  name: string,
  meeting: BenchMeeting,
  ns: Namespace,
  gateways: Array<{ port: number; wsUrl: string }>,
  coturn: { host: string; port: number },
  token: (userId: string) => Promise<string>,
): Promise<NamespacedCall> {
  const relays: ShapedRelay[] = [];
  const turnRelay = await ShapedRelay.start({ host: ns.hostIp, target: coturn });
  relays.push(turnRelay);
  const gwRelays = await Promise.all(gateways.map((g) => ShapedRelay.start({ host: ns.hostIp, target: { host: '127.0.0.1', port: g.port }, udp: false })));
  relays.push(...gwRelays);
  const closeRelays = () => {
    for (const r of relays) r.close();
  };
  const base = { meetingId: meeting.meetingId, passcode: meeting.passcode };
  const tutor = await DrillPeer.join({ ...base, gateways: gateways.map((g) => g.wsUrl), accessToken: await token(meeting.tutorId), displayName: 'Tutor' }, 0);
  tutor.polite = true;
  const child: ChildProcess = spawn('ip', ['netns', 'exec', ns.name, process.execPath, '--import', 'tsx', join(repoRoot, 'bench/drills/peer-child.ts')], {
    cwd: repoRoot,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  let lastSnapshot: PeerSnapshot | undefined;
  const waiters: Array<(m: ChildReply) => void> = [];
  child.on('message', (m: ChildReply) => {
    if (m.type === 'snapshot') lastSnapshot = m.snapshot;
    for (const w of waiters.splice(0)) w(m);
  });
  const ask = (cmd: ChildCommand, timeoutMs = 15_000) =>
    new Promise<ChildReply>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`peer in ${ns.name} did not answer ${cmd.type}`)), timeoutMs);
      waiters.push((m) => {
        clearTimeout(timer);
        resolve(m);
      });
      child.send(cmd);
    });
  const student: CallPeer = {
    name: `${name}/student(ns)`,
    async snapshot() {
      if (child.exitCode !== null || !child.connected) throw new Error(`peer in ${ns.name} exited`);
      const r = await ask({ type: 'snapshot' }, 5_000).catch(() => undefined);
      if (r?.type === 'snapshot') return r.snapshot;
      if (lastSnapshot) return lastSnapshot;
      throw new Error(`no snapshot from the peer in ${ns.name}`);
    },
    close() {
      if (child.connected) child.send({ type: 'close' } satisfies ChildCommand);
      setTimeout(() => child.kill('SIGKILL'), 2_000).unref();
    },
  };
  const closeAll = () => {
    tutor.close();
    student.close();
    closeRelays();
  };
  try {
    const joined = await ask(
      {
        type: 'join',
        options: {
          ...base,
          gateways: gwRelays.map((r) => `ws://${r.host}:${r.port}/api/video/ws`),
          accessToken: await token(meeting.studentId),
          displayName: 'Student (namespace)',
        },
        turnVia: `${turnRelay.host}:${turnRelay.port}`,
      },
      // Starting node with tsx and wrtc takes a while on a loaded machine.
      90_000,
    );
    if (joined.type !== 'joined') throw new Error(`peer in ${ns.name}: ${joined.type === 'error' ? joined.message : joined.type}`);
    tutor.remote = joined.sessionId;
    child.send({ type: 'offer', to: tutor.sessionId } satisfies ChildCommand);
    const peers: [CallPeer, CallPeer] = [local(`${name}/tutor`, tutor), student];
    await waitConnected(peers);
    return {
      name,
      meeting,
      peers,
      turnRelay,
      turnRelayPort: turnRelay.port,
      close() {
        closeAll();
        void exited;
      },
    };
  } catch (err) {
    closeAll();
    throw err;
  }
}
