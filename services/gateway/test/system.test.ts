import { randomBytes } from 'node:crypto';
import wrtc from '@roamhq/wrtc';
import { type CoturnServer, freePort, type Harness, setup, startCoturn } from '@lessoncall/kit/testing';
import type { IceServer } from '@lessoncall/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signDevToken } from '../src/auth/index';
import { type Backend, startBackend, type TestMeeting, testSecret } from './helpers';
import { type Of, WsClient } from './ws-client';
import { type ServiceProcess, spawnService } from './ws-stack';

/** What these tests use of @roamhq/wrtc (its typings lean on the DOM lib, which the services do not load). */
interface DataChannel {
  readyState: string;
  send(data: string): void;
  onopen: (() => void) | null;
  onmessage: ((e: { data: unknown }) => void) | null;
}
interface PeerConnection {
  connectionState: string;
  onicecandidate: ((e: { candidate: { toJSON(): { candidate: string; sdpMid?: string | null; sdpMLineIndex?: number | null } } | null }) => void) | null;
  onconnectionstatechange: (() => void) | null;
  ondatachannel: ((e: { channel: DataChannel }) => void) | null;
  createDataChannel(label: string): DataChannel;
  createOffer(): Promise<{ type: string; sdp: string }>;
  createAnswer(): Promise<{ type: string; sdp: string }>;
  setLocalDescription(d: { type: string; sdp: string }): Promise<void>;
  setRemoteDescription(d: { type: string; sdp: string }): Promise<void>;
  addIceCandidate(c: { candidate: string; sdpMid?: string; sdpMLineIndex?: number }): Promise<void>;
  close(): void;
}
const RTCPeerConnection = (wrtc as unknown as { RTCPeerConnection: new (config: unknown) => PeerConnection }).RTCPeerConnection;

/**
 * A browser-like peer: WebRTC forced through the TURN relay, signalling only through the gateway
 * WebSocket. The joiner offers to the session it finds in welcome; the other answers.
 */
class Peer {
  readonly pc: PeerConnection;
  readonly received: string[] = [];
  /** fromSessionId of every signal this peer got. */
  readonly signalsFrom: string[] = [];
  readonly candidateTypes = new Set<string>();
  channel: DataChannel | undefined;
  #client: WsClient;
  #remote = '';
  #pending: Array<{ candidate: string; sdpMid?: string; sdpMLineIndex?: number }> = [];
  #haveRemote = false;

  constructor(client: WsClient, iceServers: IceServer[]) {
    this.#client = client;
    this.pc = new RTCPeerConnection({
      iceServers: iceServers.map((s) => ({ urls: s.urls, username: s.username, credential: s.credential })),
      iceTransportPolicy: 'relay',
    });
    this.pc.onicecandidate = (e) => {
      if (!e.candidate || !this.#remote) return;
      const c = e.candidate.toJSON();
      this.candidateTypes.add(/ typ (\w+)/.exec(c.candidate)?.[1] ?? '?');
      this.#client.send({
        kind: {
          case: 'signal',
          value: {
            toSessionId: this.#remote,
            signal: { type: 'candidate', candidate: { candidate: c.candidate, sdpMid: c.sdpMid ?? undefined, sdpMLineIndex: c.sdpMLineIndex ?? undefined } },
          },
        },
      });
    };
    this.pc.ondatachannel = (e) => this.#attach(e.channel);
    this.use(client);
  }

  /** Signals arrive through this socket from now on (after a reconnect, the new one). */
  use(client: WsClient): void {
    this.#client = client;
    client.listen('signal', (s) => void this.#onSignal(s));
  }

  async offer(to: string): Promise<void> {
    this.#remote = to;
    this.#attach(this.pc.createDataChannel('lesson'));
    const offer = await this.pc.createOffer();
    await this.pc.setLocalDescription(offer);
    this.#client.send({ kind: { case: 'signal', value: { toSessionId: to, signal: { type: 'offer', sdp: offer.sdp } } } });
  }

  connected(timeoutMs = 20_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`not connected in ${timeoutMs} ms (state ${this.pc.connectionState})`)), timeoutMs);
      const check = () => {
        if (this.pc.connectionState === 'connected' && this.channel?.readyState === 'open') {
          clearTimeout(timer);
          resolve();
        } else setTimeout(check, 20);
      };
      check();
    });
  }

  async #onSignal(s: Of<'signal'>): Promise<void> {
    this.signalsFrom.push(s.fromSessionId);
    const signal = s.signal;
    if (!signal) return;
    if (signal.type === 'offer') {
      this.#remote = s.fromSessionId;
      await this.pc.setRemoteDescription({ type: 'offer', sdp: signal.sdp });
      await this.#flush();
      const answer = await this.pc.createAnswer();
      await this.pc.setLocalDescription(answer);
      this.#client.send({ kind: { case: 'signal', value: { toSessionId: s.fromSessionId, signal: { type: 'answer', sdp: answer.sdp } } } });
    } else if (signal.type === 'answer') {
      await this.pc.setRemoteDescription({ type: 'answer', sdp: signal.sdp });
      await this.#flush();
    } else if (signal.type === 'candidate' && signal.candidate) {
      const c = { candidate: signal.candidate.candidate, sdpMid: signal.candidate.sdpMid, sdpMLineIndex: signal.candidate.sdpMLineIndex };
      if (this.#haveRemote) await this.pc.addIceCandidate(c);
      else this.#pending.push(c);
    }
  }

  async #flush(): Promise<void> {
    this.#haveRemote = true;
    for (const c of this.#pending.splice(0)) await this.pc.addIceCandidate(c);
  }

  #attach(channel: DataChannel): void {
    this.channel = channel;
    channel.onmessage = (e) => this.received.push(String(e.data));
  }
}

async function eventually(what: string, probe: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('system: two gateways, two signaling processes, coturn, two WebRTC peers', () => {
  let h: Harness;
  let coturn: CoturnServer;
  let backend: Backend;
  const processes: ServiceProcess[] = [];
  const gateways: ServiceProcess[] = [];
  const issuer = 'http://127.0.0.1/auth/v1';
  const secret = testSecret();
  const graceSeconds = 20;
  const token = (userId: string) => signDevToken({ JWT_SECRET: secret, JWT_ISSUER: issuer, JWT_AUDIENCE: 'authenticated' }, { userId });
  const peers: Peer[] = [];
  const clients: WsClient[] = [];

  beforeAll(async () => {
    h = await setup({ postgres: true });
    const turnSecret = randomBytes(24).toString('hex');
    coturn = await startCoturn({ secret: turnSecret, config: 'local' });
    backend = await startBackend(h, {
      signaling: 0,
      turn: { secret: turnSecret, urls: coturn.turnUrls },
      participant: { PRESENCE_GRACE_SECONDS: String(graceSeconds) },
    });
    const started = await Promise.all([
      ...[1, 2].map(async () => {
        const port = await freePort();
        return spawnService('signaling', { ...h.natsEnv('signaling'), HEALTH_PORT: String(port) }, port);
      }),
      ...[1, 2].map(async (i) => {
        const port = await freePort();
        const env = { ...h.natsEnv('gateway'), PORT: String(port), HOST: '127.0.0.1', GATEWAY_ID: `gw-${i}`, JWT_SECRET: secret, JWT_ISSUER: issuer };
        const gw = await spawnService('gateway', env, port);
        gateways[i - 1] = gw;
        return gw;
      }),
    ]);
    processes.push(...started);
  });
  afterAll(async () => {
    for (const p of peers) p.pc.close();
    for (const c of clients) c.close();
    await Promise.all(processes.map((p) => p.stop()));
    await backend?.stop();
    await coturn?.stop();
    await h?.cleanup();
  });

  async function join(gw: ServiceProcess, m: TestMeeting, userId: string, resume?: { sessionId: string; resumeToken: string }) {
    const c = await WsClient.open(gw.url.replace('http', 'ws'));
    clients.push(c);
    const welcome = await c.hello({
      accessToken: await token(userId),
      meetingId: m.meetingId,
      passcode: m.passcode,
      displayName: userId === m.tutorId ? 'Tutor' : 'Student',
      ...(resume ? { resumeSessionId: resume.sessionId, resumeToken: resume.resumeToken } : {}),
    });
    return { c, welcome };
  }

  it('connects two relayed peers on different gateways, keeps intruders out, and survives a gateway kill', async () => {
    const [gw1, gw2] = gateways as [ServiceProcess, ServiceProcess];
    const m = await backend.createMeeting();
    const tutor = await join(gw1, m, m.tutorId);
    const student = await join(gw2, m, m.studentId);
    expect(student.welcome.iceServers.some((s) => s.urls.some((u) => u.startsWith('turn:')) && s.username && s.credential)).toBe(true);

    const tutorPeer = new Peer(tutor.c, tutor.welcome.iceServers);
    const studentPeer = new Peer(student.c, student.welcome.iceServers);
    peers.push(tutorPeer, studentPeer);
    // The joiner offers to the session already there.
    const there = student.welcome.participants.find((p) => p.sessionId !== student.welcome.sessionId);
    expect(there?.sessionId).toBe(tutor.welcome.sessionId);
    await studentPeer.offer(tutor.welcome.sessionId);
    await Promise.all([tutorPeer.connected(), studentPeer.connected()]);
    // Forced through coturn: only relay candidates were gathered and signalled.
    expect([...tutorPeer.candidateTypes]).toEqual(['relay']);
    expect([...studentPeer.candidateTypes]).toEqual(['relay']);

    studentPeer.channel?.send('hello from the student');
    tutorPeer.channel?.send('hello from the tutor');
    await eventually('data both ways', () => tutorPeer.received.length === 1 && studentPeer.received.length === 1);
    expect(tutorPeer.received).toEqual(['hello from the student']);
    expect(studentPeer.received).toEqual(['hello from the tutor']);

    // A session of another meeting tries to inject into their exchange, on either gateway.
    const other = await backend.createMeeting();
    for (const gw of [gw1, gw2]) {
      const intruder = await join(gw, other, other.tutorId);
      for (const target of [tutor.welcome.sessionId, student.welcome.sessionId]) {
        intruder.c.send({
          requestId: `inject-${target}`,
          kind: { case: 'signal', value: { toSessionId: target, signal: { type: 'offer', sdp: 'v=0 evil' } } },
        });
        const refused = await intruder.c.error();
        expect(refused).toMatchObject({ code: 'not_in_meeting', requestId: `inject-${target}` });
      }
      intruder.c.close();
    }
    // No wait needed: a signal has one outcome, delivered or refused to its sender (the router and
    // signaling's decide()), so each error above is the proof that its signal reached nobody.
    expect(new Set(tutorPeer.signalsFrom)).toEqual(new Set([student.welcome.sessionId]));
    expect(new Set(studentPeer.signalsFrom)).toEqual(new Set([tutor.welcome.sessionId]));

    // Kill the student's gateway without warning. Media is peer to peer (via coturn): it keeps flowing.
    await gw2.stop('SIGKILL');
    expect((await student.c.closed).code).toBe(1006);
    studentPeer.channel?.send('still here');
    await eventually('data after the kill', () => tutorPeer.received.includes('still here'));

    // The client reconnects to the surviving gateway and resumes: same session, well within the grace.
    const killedAt = Date.now();
    const moved = await join(gw1, m, m.studentId, { sessionId: student.welcome.sessionId, resumeToken: student.welcome.resumeToken });
    expect(Date.now() - killedAt).toBeLessThan(graceSeconds * 1000);
    expect(moved.welcome).toMatchObject({ resumed: true, sessionId: student.welcome.sessionId });
    expect(moved.welcome.participants.map((p) => p.sessionId).sort()).toEqual([tutor.welcome.sessionId, student.welcome.sessionId].sort());
    studentPeer.use(moved.c);

    // Signalling reaches the resumed session on its new gateway (an ICE restart offer from the tutor).
    const before = studentPeer.signalsFrom.length;
    tutor.c.send({ kind: { case: 'signal', value: { toSessionId: student.welcome.sessionId, signal: { type: 'ice-restart' } } } });
    await eventually('signal after resume', () => studentPeer.signalsFrom.length > before);
    expect(studentPeer.signalsFrom.at(-1)).toBe(tutor.welcome.sessionId);
    expect(studentPeer.pc.connectionState).toBe('connected');
  });
});
