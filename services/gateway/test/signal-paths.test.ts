import { freePort, type Harness, metricValue, setup } from '@lessoncall/kit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Backend, startBackend, startTestGateway, type TestGateway, type TestMeeting } from './helpers';
import { WsClient } from './ws-client';
import { type ServiceProcess, spawnService } from './ws-stack';

/**
 * How a signal travels between two browsers, and that none disappears without a trace:
 * every path either delivers it, refuses it to the sender with a code, or leaves a gap in the
 * sender's numbering that the receiver sees (and restarts ICE on).
 */
describe('signal paths: delivered, refused to the sender, or a visible gap', () => {
  let h: Harness;
  let backend: Backend;
  const gateways: TestGateway[] = [];
  const clients: WsClient[] = [];
  const processes: ServiceProcess[] = [];

  beforeAll(async () => {
    h = await setup({ postgres: true });
    backend = await startBackend(h, { signaling: 1 });
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await Promise.all(gateways.map((g) => g.stop()));
    await Promise.all(processes.map((p) => p.stop('SIGKILL')));
    await backend?.stop();
    await h?.cleanup();
  });

  async function gateway(env: Record<string, string> = {}): Promise<TestGateway> {
    const g = await startTestGateway(h, { WS_RATE_PER_SECOND: '500', ...env });
    gateways.push(g);
    return g;
  }

  async function joined(g: TestGateway, m: TestMeeting, who: 'tutor' | 'student') {
    const c = await WsClient.open(g.wsUrl);
    clients.push(c);
    const welcome = await c.hello({ accessToken: await g.tokenFor(who === 'tutor' ? m.tutorId : m.studentId), meetingId: m.meetingId, passcode: m.passcode });
    return { c, sessionId: welcome.sessionId };
  }

  /** A tutor on `a` and a student on `b`, each having seen the other arrive. */
  async function pair(a: TestGateway, b: TestGateway) {
    const m = await backend.createMeeting();
    const tutor = await joined(a, m, 'tutor');
    const student = await joined(b, m, 'student');
    await tutor.c.next('peerJoined');
    return { m, tutor, student };
  }

  const candidate = (seq: number) => ({
    type: 'candidate',
    candidate: { candidate: `candidate:${seq} 1 udp 2122260223 127.0.0.1 ${10_000 + seq} typ host`, sdpMid: '0', sdpMLineIndex: 0 },
  });

  /** A counter's value on a gateway's /metrics, summed over the series that carry `labels` (e.g. { path: 'direct' }). */
  async function metric(g: TestGateway, name: string, labels: Record<string, string> = {}): Promise<number> {
    return metricValue(await (await fetch(g.metricsUrl)).text(), name, labels);
  }

  it('goes straight to the gateway holding the target, without the signaling service', async () => {
    const [a, b] = [await gateway(), await gateway()];
    const { tutor, student } = await pair(a, b);
    // The signaling service is not on this path at all: stop it.
    const [signaling] = backend.signaling.splice(0);
    await signaling?.stop();

    tutor.c.send({ kind: { case: 'signal', value: { toSessionId: student.sessionId, signal: { type: 'offer', sdp: 'v=0 offer' }, seq: 1 } } });
    const offer = await student.c.next('signal');
    expect(offer.fromSessionId).toBe(tutor.sessionId);
    expect(offer.signal?.sdp).toBe('v=0 offer');
    expect(offer.seq).toBe(1);
    student.c.send({ kind: { case: 'signal', value: { toSessionId: tutor.sessionId, signal: { type: 'answer', sdp: 'v=0 answer' }, seq: 1 } } });
    expect((await tutor.c.next('signal')).signal?.sdp).toBe('v=0 answer');

    expect(await metric(a, 'gateway_ws_signals_routed_total', { path: 'direct' })).toBe(1);
    expect(await metric(b, 'gateway_ws_signals_routed_total', { path: 'direct' })).toBe(1);
    expect(await metric(a, 'gateway_ws_signals_routed_total', { path: 'signaling' })).toBe(0);
  });

  it('a signal to a session the gateway does not know goes to signaling, which refuses it with a code', async () => {
    const [a, b] = [await gateway(), await gateway()];
    // Signaling is back for this one (the previous test stopped it).
    if (backend.signaling.length === 0) {
      const port = await freePort();
      processes.push(await spawnService('signaling', { ...h.natsEnv('signaling'), HEALTH_PORT: String(port) }, port));
    }
    const { tutor, student } = await pair(a, b);
    tutor.c.send({ requestId: 'nobody', kind: { case: 'signal', value: { toSessionId: 'not-a-live-session', signal: { type: 'offer', sdp: 'x' }, seq: 1 } } });
    const refused = await tutor.c.error('session_not_found');
    expect(refused.requestId).toBe('nobody');
    // And the pair still talks, straight.
    tutor.c.send({ kind: { case: 'signal', value: { toSessionId: student.sessionId, signal: { type: 'offer', sdp: 'v=0' }, seq: 1 } } });
    expect((await student.c.next('signal')).fromSessionId).toBe(tutor.sessionId);
    expect(await metric(a, 'gateway_ws_signals_routed_total', { path: 'signaling' })).toBe(1);
  });

  it('past its queue bound the gateway refuses with unavailable instead of queueing: every signal is delivered or refused', async () => {
    const [a, b] = [await gateway({ SIGNAL_QUEUE_MAX: '1' }), await gateway()];
    const { tutor, student } = await pair(a, b);
    const sent = 200;
    const refused: string[] = [];
    tutor.c.listen('error', (e, m) => {
      if (e.code === 'unavailable') refused.push(m.requestId);
    });
    let last = 0;
    student.c.listen('signal', (s) => {
      last = Math.max(last, s.seq);
    });
    // Sent in one burst, the frames reach the gateway in the same few turns of its event loop.
    for (let seq = 1; seq <= sent; seq++) {
      tutor.c.send({ requestId: `s${seq}`, kind: { case: 'signal', value: { toSessionId: student.sessionId, signal: candidate(seq), seq } } });
    }
    // A sentinel after the burst, sent once the burst has been answered: when it arrives, everything before it has.
    await new Promise((r) => setTimeout(r, 50));
    tutor.c.send({ requestId: 'sentinel', kind: { case: 'signal', value: { toSessionId: student.sessionId, signal: candidate(sent + 1), seq: sent + 1 } } });
    await expect.poll(() => last, { timeout: 5_000 }).toBe(sent + 1);
    const delivered = await metric(b, 'gateway_ws_messages_sent_total', { kind: 'signal' });
    expect(refused.length).toBeGreaterThan(0);
    expect(refused).not.toContain('sentinel');
    expect(delivered + refused.length).toBe(sent + 1);
    expect(await metric(a, 'gateway_ws_signals_refused_total', { reason: 'overloaded' })).toBe(refused.length);
    // The receiver's gateway counted the holes in the numbering that the refusals left.
    expect(await metric(b, 'gateway_ws_signal_gaps_total')).toBeGreaterThan(0);
  });

  it('a signaling replica killed mid-exchange: every signal after it arrives, and any lost one shows as a gap', async () => {
    const ports = [await freePort(), await freePort()];
    const replicas = await Promise.all(ports.map((port) => spawnService('signaling', { ...h.natsEnv('signaling'), HEALTH_PORT: String(port) }, port)));
    processes.push(...replicas);
    // Everything through signaling, the way it went before the roster view, to exercise that path.
    const [a, b] = [await gateway({ SIGNAL_DIRECT: 'false' }), await gateway({ SIGNAL_DIRECT: 'false' })];
    const { tutor, student } = await pair(a, b);
    const seen: number[] = [];
    student.c.listen('signal', (s) => seen.push(s.seq));
    const refused = new Set<string>();
    tutor.c.listen('error', (_e, m) => refused.add(m.requestId));

    let seq = 0;
    const send = () => {
      seq += 1;
      tutor.c.send({ requestId: `s${seq}`, kind: { case: 'signal', value: { toSessionId: student.sessionId, signal: candidate(seq), seq } } });
    };
    const burst = async (n: number) => {
      for (let i = 0; i < n; i++) {
        send();
        if (i % 20 === 19) await new Promise((r) => setTimeout(r, 50));
      }
    };
    await burst(200);
    await replicas[0]?.stop('SIGKILL');
    const afterKill = seq;
    await burst(200);
    await expect.poll(() => seen.at(-1), { timeout: 10_000 }).toBe(seq);

    const got = new Set(seen);
    const notSeen = Array.from({ length: seq }, (_, i) => i + 1).filter((n) => !got.has(n));
    // Whatever went missing without its sender being told went missing at the kill…
    expect(notSeen.filter((n) => !refused.has(`s${n}`)).every((n) => n > afterKill - 20 && n <= afterKill + 20)).toBe(true);
    // …and the receiver saw every hole, told or not.
    expect(await metric(b, 'gateway_ws_signal_gaps_total')).toBe(notSeen.length);
    // In order, never twice.
    expect(seen).toEqual([...seen].sort((x, y) => x - y));
    expect(got.size).toBe(seen.length);
  });

  it('a receiver that stops reading is dropped, resumes, and sees the jump in the numbering', async () => {
    const [a, b] = [await gateway(), await gateway({ WS_SEND_BUFFER_BYTES: '65536' })];
    const m = await backend.createMeeting();
    const tutor = await joined(a, m, 'tutor');
    const studentSocket = await WsClient.open(b.wsUrl);
    clients.push(studentSocket);
    const welcome = await studentSocket.hello({ accessToken: await b.tokenFor(m.studentId), meetingId: m.meetingId, passcode: m.passcode });
    await tutor.c.next('peerJoined');
    let lastSeen = 0;
    studentSocket.listen('signal', (s) => {
      lastSeen = s.seq;
    });

    // The student's tab freezes: nothing is read, and the tutor keeps sending big offers.
    studentSocket.ws.pause();
    const sdp = `v=0\r\n${'a=x-filler\r\n'.repeat(2_500)}`;
    let seq = 0;
    const closed = studentSocket.closed;
    for (let i = 0; i < 400; i++) {
      seq += 1;
      tutor.c.send({ kind: { case: 'signal', value: { toSessionId: welcome.sessionId, signal: { type: 'offer', sdp }, seq } } });
      if (i % 25 === 24) await new Promise((r) => setTimeout(r, 20));
      if (await Promise.race([closed.then(() => true), Promise.resolve(false)])) break;
    }
    studentSocket.ws.resume();
    await closed;
    expect(await metric(b, 'gateway_ws_closed_total', { reason: 'slow_consumer' })).toBe(1);
    const seenBeforeDrop = lastSeen;

    // Back with the same session; the next signal's number tells the client what it missed.
    const again = await WsClient.open(b.wsUrl);
    clients.push(again);
    const resumed = await again.hello({
      accessToken: await b.tokenFor(m.studentId),
      meetingId: m.meetingId,
      resumeSessionId: welcome.sessionId,
      resumeToken: welcome.resumeToken,
    });
    expect(resumed.resumed).toBe(true);
    seq += 1;
    tutor.c.send({ kind: { case: 'signal', value: { toSessionId: welcome.sessionId, signal: { type: 'offer', sdp: 'v=0 after' }, seq } } });
    const next = await again.next('signal');
    expect(next.signal?.sdp).toBe('v=0 after');
    expect(next.seq).toBe(seq);
    expect(next.seq).toBeGreaterThan(seenBeforeDrop + 1);
  });
});
