import { client } from '@lessoncall/kit';
import { type Harness, setup } from '@lessoncall/kit/testing';
import { MeetingService, ParticipantService } from '@lessoncall/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { type Backend, startBackend, startTestGateway, type TestGateway, type TestMeeting } from './helpers';
import { WsClient } from './ws-client';

const rate = 20;

describe('gateway WebSocket /api/video/ws', () => {
  let h: Harness;
  let backend: Backend;
  let gw: TestGateway;
  const clients: WsClient[] = [];

  beforeAll(async () => {
    h = await setup({ postgres: true });
    backend = await startBackend(h);
    gw = await startTestGateway(h, {
      WS_RATE_PER_SECOND: String(rate),
      WS_MAX_MESSAGE_BYTES: '4096',
      WS_HEARTBEAT_MS: '1000',
      GATEWAY_ID: 'gw-main',
      WS_HELLO_TIMEOUT_MS: '1500',
      WEB_ORIGIN: 'http://app.test',
    });
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await gw?.stop();
    await backend?.stop();
    await h?.cleanup();
  });

  async function open(g: TestGateway = gw): Promise<WsClient> {
    const c = await WsClient.open(g.wsUrl);
    clients.push(c);
    return c;
  }

  async function joined(m: TestMeeting, who: 'tutor' | 'student', g: TestGateway = gw) {
    const c = await open(g);
    const userId = who === 'tutor' ? m.tutorId : m.studentId;
    const welcome = await c.hello({ accessToken: await g.tokenFor(userId), meetingId: m.meetingId, passcode: m.passcode, displayName: who });
    return { c, welcome, userId };
  }

  async function participants(m: TestMeeting) {
    const res = await client(h.nc, ParticipantService, {
      timeoutMs: 3_000,
    }).listParticipants({ meetingId: m.meetingId, userId: m.tutorId });
    return res.participants;
  }

  it('authenticates with hello (not the URL), joins, and tells the others', async () => {
    const m = await backend.createMeeting();
    const tutor = await joined(m, 'tutor');
    expect(tutor.welcome.sessionId).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(tutor.welcome.userType).toBe('tutor');
    expect(tutor.welcome.meeting?.meetingId).toBe(m.meetingId);
    expect(tutor.welcome.resumed).toBe(false);
    expect(tutor.welcome.resumeToken).not.toBe('');
    expect(tutor.welcome.participants.map((p) => p.sessionId)).toEqual([tutor.welcome.sessionId]);

    const student = await joined(m, 'student');
    expect(student.welcome.userType).toBe('student');
    expect(student.welcome.participants.map((p) => p.sessionId).sort()).toEqual([tutor.welcome.sessionId, student.welcome.sessionId].sort());
    const peer = await tutor.c.next('peerJoined');
    expect(peer.participant?.sessionId).toBe(student.welcome.sessionId);
    expect(peer.participant?.userType).toBe('student');
    // Nobody is told about their own arrival.
    await expect(student.c.next('peerJoined', () => true, 300)).rejects.toThrow(/no peerJoined/);
    // The participant service knows the sockets are connected.
    expect((await participants(m)).every((p) => p.connected)).toBe(true);
  });

  it('relays signals between two sessions with the sender stamped by the gateway', async () => {
    const m = await backend.createMeeting();
    const tutor = await joined(m, 'tutor');
    const student = await joined(m, 'student');
    tutor.c.send({ requestId: 'o1', kind: { case: 'signal', value: { toSessionId: student.welcome.sessionId, signal: { type: 'offer', sdp: 'v=0 offer' } } } });
    const offer = await student.c.next('signal');
    expect(offer.fromSessionId).toBe(tutor.welcome.sessionId);
    expect(offer.signal?.type).toBe('offer');
    expect(offer.signal?.sdp).toBe('v=0 offer');

    student.c.send({
      kind: {
        case: 'signal',
        value: {
          toSessionId: tutor.welcome.sessionId,
          signal: { type: 'candidate', candidate: { candidate: 'candidate:1 1 udp 1 127.0.0.1 5000 typ host', sdpMid: '0', sdpMLineIndex: 0 } },
        },
      },
    });
    const candidate = await tutor.c.next('signal');
    expect(candidate.fromSessionId).toBe(student.welcome.sessionId);
    expect(candidate.signal?.candidate?.candidate).toContain('typ host');
    expect(candidate.signal?.candidate?.sdpMLineIndex).toBe(0);

    // A client cannot choose its sender: there is no such field, and trying is an invalid_request.
    tutor.c.raw(
      JSON.stringify({
        requestId: 'spoof',
        signal: { toSessionId: student.welcome.sessionId, fromSessionId: 'someone-else', signal: { type: 'offer', sdp: 'x' } },
      }),
    );
    const spoof = await tutor.c.error('invalid_request');
    expect(spoof.requestId).toBe('spoof');
    await expect(student.c.next('signal', () => true, 300)).rejects.toThrow();
  });

  it('refuses a signal to a session of another meeting with not_in_meeting, and delivers nothing', async () => {
    const m1 = await backend.createMeeting();
    const m2 = await backend.createMeeting();
    const a = await joined(m1, 'tutor');
    const b = await joined(m1, 'student');
    const intruder = await joined(m2, 'tutor');
    intruder.c.send({ requestId: 'inject', kind: { case: 'signal', value: { toSessionId: b.welcome.sessionId, signal: { type: 'offer', sdp: 'evil' } } } });
    const refused = await intruder.c.error('not_in_meeting');
    expect(refused.requestId).toBe('inject');
    await expect(b.c.next('signal', () => true, 300)).rejects.toThrow();
    await expect(a.c.next('signal', () => true, 50)).rejects.toThrow();
  });

  it('answers every bad input with an error naming its code, and keeps the socket open', async () => {
    const m = await backend.createMeeting();
    const c = await open();
    // Before hello.
    c.send({ requestId: 'early', kind: { case: 'signal', value: { toSessionId: 'abc', signal: { type: 'offer' } } } });
    expect((await c.error()).code).toBe('unauthenticated');
    // Not JSON, not UTF-8, not an object, unknown kind, no kind, wrong types.
    c.raw('{"requestId":"trunc","ping":{');
    expect((await c.error()).code).toBe('invalid_request');
    c.raw(Buffer.from([0xff, 0xfe, 0x00, 0x80]), true);
    expect((await c.error()).code).toBe('invalid_request');
    c.raw('[1,2,3]');
    expect((await c.error()).code).toBe('invalid_request');
    c.raw(JSON.stringify({ requestId: 'u1', dance: { style: 'tango' } }));
    const unknown = await c.error();
    expect(unknown.code).toBe('invalid_request');
    expect(unknown.requestId).toBe('u1');
    c.raw(JSON.stringify({ requestId: 'none' }));
    expect((await c.error()).code).toBe('invalid_request');
    c.raw(JSON.stringify({ requestId: 'types', hello: { meetingId: 42, audioMuted: 'yes' } }));
    expect((await c.error()).code).toBe('invalid_request');

    // Bad hellos: each is an error, and the socket may try again.
    c.send({ requestId: 'h1', kind: { case: 'hello', value: { accessToken: 'not-a-jwt', meetingId: m.meetingId, passcode: m.passcode } } });
    expect((await c.error()).code).toBe('unauthenticated');
    const expired = await gw.tokenFor(m.tutorId, { expiresInSeconds: -120 });
    c.send({ requestId: 'h2', kind: { case: 'hello', value: { accessToken: expired, meetingId: m.meetingId, passcode: m.passcode } } });
    expect((await c.error()).code).toBe('token_expired');
    c.send({ requestId: 'h3', kind: { case: 'hello', value: { accessToken: await gw.tokenFor(m.tutorId), meetingId: m.meetingId, passcode: '000000' } } });
    const wrongPasscode = await c.error();
    expect(wrongPasscode.code).toBe('passcode_invalid');
    expect(wrongPasscode.requestId).toBe('h3');

    const welcome = await c.hello({ accessToken: await gw.tokenFor(m.tutorId), meetingId: m.meetingId, passcode: m.passcode, displayName: 'T' });
    c.send({ requestId: 'again', kind: { case: 'hello', value: { accessToken: 'x', meetingId: m.meetingId } } });
    expect((await c.error()).code).toBe('invalid_request');
    c.send({ requestId: 's1', kind: { case: 'signal', value: { toSessionId: welcome.sessionId, signal: { type: 'offer' } } } });
    expect((await c.error()).code).toBe('invalid_request');
    c.send({ requestId: 's2', kind: { case: 'signal', value: { toSessionId: 'x.y.>', signal: { type: 'offer' } } } });
    expect((await c.error()).field).toBe('toSessionId');
    c.send({ requestId: 's3', kind: { case: 'signal', value: { toSessionId: 'abc', signal: { type: 'dance' } } } });
    expect((await c.error()).field).toBe('signal.type');
    c.send({ requestId: 'm1', kind: { case: 'media', value: { kind: 'smell', muted: true } } });
    expect((await c.error()).code).toBe('invalid_request');

    // Still open and serving.
    c.send({ requestId: 'p', kind: { case: 'ping', value: { sentAtMs: 42n } } });
    const pong = await c.next('pong');
    expect(pong.sentAtMs).toBe(42n);
    expect(pong.requestId).toBe('p');
    expect(c.ws.readyState).toBe(WebSocket.OPEN);
  });

  it('rate-limits a session, and closes it only for sustained abuse', async () => {
    const c = await open();
    for (let i = 0; i < rate * 3; i++) c.send({ requestId: `p${i}`, kind: { case: 'ping', value: {} } });
    const limited = await c.error('rate_limited');
    expect(limited.retryAfterSeconds).toBeGreaterThan(0);
    // A sentinel once the bucket has a token again: the socket answers in order, so when its pong
    // is here every earlier ping has been answered or dropped.
    await new Promise((r) => setTimeout(r, (limited.retryAfterSeconds ?? 1) * 1000));
    c.send({ requestId: 'sentinel', kind: { case: 'ping', value: {} } });
    await c.next('pong', (_v, m) => m.requestId === 'sentinel');
    // The burst (twice the rate) went through, the rest was dropped, and a single error said so.
    expect(c.pending('pong').length).toBeGreaterThanOrEqual(rate * 2);
    expect(c.pending('pong').length).toBeLessThan(rate * 2 + 5);
    expect(c.pending('error').length).toBe(0);
    expect(c.ws.readyState).toBe(WebSocket.OPEN);

    const abuser = await open();
    for (let i = 0; i < rate * 12; i++) abuser.send({ kind: { case: 'ping', value: {} } });
    expect((await abuser.closed).code).toBe(1008);
  });

  it('answers frames over the size cap with message_too_large, and closes on frames far over it', async () => {
    const c = await open();
    c.raw(JSON.stringify({ requestId: 'big', ping: {}, pad: 'x'.repeat(5_000) }));
    expect((await c.error()).code).toBe('message_too_large');
    expect(c.ws.readyState).toBe(WebSocket.OPEN);
    c.raw('x'.repeat(4096 * 4 + 1));
    expect((await c.closed).code).toBe(1009);
  });

  it('closes a socket that sends no hello in time', async () => {
    const c = await open();
    const err = await c.error('unauthenticated', 3_000);
    expect(err.message).toMatch(/no hello/);
    expect((await c.closed).code).toBe(1008);
  });

  it('refuses other paths and foreign origins at the upgrade', async () => {
    const refused = (url: string, origin?: string) =>
      new Promise<number>((resolve, reject) => {
        const ws = new WebSocket(url, { origin });
        ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        ws.on('open', () => reject(new Error('opened')));
        ws.on('error', () => {});
      });
    expect(await refused(`${gw.wsUrl}/api/video/other`)).toBe(404);
    expect(await refused(`${gw.wsUrl}/api/video/ws`, 'http://evil.test')).toBe(403);
    const ok = await WsClient.open(gw.wsUrl, { origin: 'http://app.test' });
    ok.close();
  });

  it("checks the URL's ?meeting= routing key: not an id is a 400 at the upgrade, another meeting's hello is refused", async () => {
    const upgrade = (query: string) =>
      new Promise<{ status: number; body: Record<string, unknown> }>((resolve, reject) => {
        const ws = new WebSocket(`${gw.wsUrl}/api/video/ws${query}`);
        ws.on('unexpected-response', (_req, res) => {
          let text = '';
          res.on('data', (d: Buffer) => (text += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
        });
        ws.on('open', () => reject(new Error('opened')));
        ws.on('error', () => {});
      });
    for (const query of ['?meeting=has%20space', '?meeting=', '?meeting=a&meeting=b']) {
      const { status, body } = await upgrade(query);
      expect(status, query).toBe(400);
      expect(body, query).toMatchObject({ code: 'invalid_request', field: 'meeting' });
    }

    const m1 = await backend.createMeeting();
    const m2 = await backend.createMeeting();
    const c = await WsClient.open(gw.wsUrl, { meeting: m1.meetingId });
    const hello = { accessToken: await gw.tokenFor(m2.tutorId), meetingId: m2.meetingId, passcode: m2.passcode };
    await expect(c.hello(hello)).rejects.toMatchObject({ code: 'invalid_request' });
    // The socket stays open and nothing was joined: a hello for its own meeting works.
    const welcome = await c.hello({ accessToken: await gw.tokenFor(m1.tutorId), meetingId: m1.meetingId, passcode: m1.passcode }, 'hello-2');
    expect(welcome.meeting?.meetingId).toBe(m1.meetingId);
    expect((await participants(m2)).length).toBe(0);
    c.close();
  });

  it('terminates a socket that stops answering pings, and reports it disconnected', async () => {
    const m = await backend.createMeeting();
    const { welcome } = await joined(m, 'student');
    const silent = new WebSocket(`${gw.wsUrl}/api/video/ws`, { autoPong: false });
    await new Promise((r) => silent.once('open', r));
    silent.send(JSON.stringify({ hello: { accessToken: await gw.tokenFor(m.tutorId), meetingId: m.meetingId, passcode: m.passcode, displayName: 'mute' } }));
    const closed = await new Promise<number>((resolve) => silent.once('close', (code) => resolve(code)));
    // ws reports a terminated connection as 1006 (no close frame).
    expect(closed).toBe(1006);
    await expect.poll(async () => (await participants(m)).filter((p) => p.userType === 'tutor').map((p) => p.connected), { timeout: 3_000 }).toEqual([false]);
    expect((await participants(m)).find((p) => p.sessionId === welcome.sessionId)?.connected).toBe(true);
  });

  it('relays mute changes, leave and the end of the meeting', async () => {
    const m = await backend.createMeeting();
    const tutor = await joined(m, 'tutor');
    const student = await joined(m, 'student');
    await tutor.c.next('peerJoined');

    student.c.send({ requestId: 'camera', kind: { case: 'media', value: { kind: 'video', muted: true } } });
    for (const c of [tutor.c, student.c]) {
      const change = await c.next('muteChanged');
      expect(change).toMatchObject({ sessionId: student.welcome.sessionId, kind: 'video', muted: true });
    }
    // Host control: the tutor mutes the student's microphone; the student may not do it back.
    tutor.c.send({ kind: { case: 'media', value: { kind: 'audio', muted: true, targetSessionId: student.welcome.sessionId } } });
    expect(await student.c.next('muteChanged')).toMatchObject({ sessionId: student.welcome.sessionId, kind: 'audio', muted: true, byUserId: m.tutorId });
    student.c.send({ requestId: 'revenge', kind: { case: 'media', value: { kind: 'audio', muted: true, targetSessionId: tutor.welcome.sessionId } } });
    const refused = await student.c.error();
    expect(refused).toMatchObject({ code: 'forbidden', requestId: 'revenge' });

    student.c.send({ requestId: 'bye', kind: { case: 'leave', value: {} } });
    expect((await student.c.closed).code).toBe(1000);
    // A leave is answered by the close alone: its own participant.left (often faster than the reply) is no error.
    expect(student.c.pending('error')).toEqual([]);
    const left = await tutor.c.next('peerLeft');
    expect(left.participant?.sessionId).toBe(student.welcome.sessionId);
    expect(left.reason).toBe('left');

    await client(h.nc, MeetingService, { timeoutMs: 3_000 }).endMeeting({ meetingId: m.meetingId, userId: m.tutorId });
    const ended = await tutor.c.next('meetingEnded');
    expect(ended.meetingId).toBe(m.meetingId);
    expect((await tutor.c.closed).code).toBe(1000);
  });

  it('resumes a session on a new socket, superseding the stale one', async () => {
    const m = await backend.createMeeting();
    const first = await joined(m, 'tutor');
    const again = await open();
    const resumed = await again.hello({
      accessToken: await gw.tokenFor(m.tutorId),
      meetingId: m.meetingId,
      resumeSessionId: first.welcome.sessionId,
      resumeToken: first.welcome.resumeToken,
    });
    expect(resumed.resumed).toBe(true);
    expect(resumed.sessionId).toBe(first.welcome.sessionId);
    expect((await first.c.closed).code).toBe(4409);
    // The stale socket's close did not mark the resumed session disconnected: once the gateway
    // has handled that close and every presence report it queued is answered, it is connected.
    await gw.gateway.settled();
    expect((await participants(m)).find((p) => p.sessionId === resumed.sessionId)?.connected).toBe(true);

    const stranger = await open();
    stranger.send({
      requestId: 'r',
      kind: {
        case: 'hello',
        value: { accessToken: await gw.tokenFor(m.studentId), meetingId: m.meetingId, resumeSessionId: first.welcome.sessionId, resumeToken: 'guess' },
      },
    });
    expect((await stranger.error()).code).toBe('resume_rejected');
  });

  it('on drain tells every socket to reconnect, closes with 1012, and the session resumes elsewhere', async () => {
    const m = await backend.createMeeting();
    const doomed = await startTestGateway(h, { GATEWAY_ID: 'gw-doomed', WS_RECONNECT_SPREAD_MS: '500', DRAIN_TIMEOUT_MS: '2000' });
    const other = await startTestGateway(h, { GATEWAY_ID: 'gw-other', JWT_SECRET: doomed.config.JWT_SECRET });
    try {
      const tutor = await joined(m, 'tutor', doomed);
      const idle = await open(doomed);
      expect((await fetch(`${doomed.url}/readyz`)).status).toBe(200);
      const stopping = doomed.stop();
      // Out of the load balancer first, so no new socket lands on a replica that is leaving.
      const readyWhileDraining = await fetch(`${doomed.url}/readyz`);
      expect(readyWhileDraining.status).toBe(503);
      expect(await readyWhileDraining.json()).toMatchObject({ status: 'draining' });
      const reconnect = await tutor.c.next('reconnect');
      expect(reconnect.afterMs).toBeLessThanOrEqual(500);
      expect((await tutor.c.closed).code).toBe(1012);
      expect((await idle.next('reconnect')).afterMs).toBeLessThanOrEqual(500);
      await stopping;
      expect((await participants(m))[0]?.connected).toBe(false);

      const moved = await open(other);
      const welcome = await moved.hello({
        accessToken: await other.tokenFor(m.tutorId),
        meetingId: m.meetingId,
        resumeSessionId: tutor.welcome.sessionId,
        resumeToken: tutor.welcome.resumeToken,
      });
      expect(welcome).toMatchObject({ resumed: true, sessionId: tutor.welcome.sessionId });
      expect((await participants(m))[0]?.connected).toBe(true);
    } finally {
      await other.stop();
    }
  });
});
