import { decode, client as rpcClient } from '@lessoncall/kit';
import { freePort, type Harness, setup, startTcpProxy, type TcpProxy } from '@lessoncall/kit/testing';
import type { ParticipantService } from '@lessoncall/participant';
import {
  type ClientMessage,
  ClientMessageSchema,
  MeetingService as MeetingRpc,
  ParticipantService as ParticipantRpc,
  ServerMessageSchema,
  wsCloseCodes,
} from '@lessoncall/proto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import {
  type Backend,
  call,
  restartParticipant,
  startBackend,
  startTestGateway,
  type TestGateway,
  type TestMeeting,
  testSecret,
} from '../../services/gateway/test/helpers';
import { joinAs } from '../../services/gateway/test/ws-client';
import { GatewayError } from '../src/call/errors';
import type { ServerMessage } from '../src/call/protocol';
import { type SignalingClosed, SignalingClient, type SignalingEvents, type SignalingOptions, type WebSocketLike } from '../src/call/signaling';

/**
 * The web app's SignalingClient against the real gateway and services: every failure it
 * recovers from is caused for real — a socket killed, the participant service stopped, a
 * gateway drained and replaced, a silent link, a token that expires, the grace period passing,
 * the tutor removing or ending — and each case asserts what the call would show.
 */
describe('web client: SignalingClient through the real gateway', () => {
  let h: Harness;
  let backend: Backend;
  let gw: TestGateway;
  /** The participant service now serving (tests stop and replace it); the first one is backend.participant. */
  let participant: ParticipantService;
  const resumeSecret = testSecret();
  const clients: SignalingClient[] = [];
  const proxies: TcpProxy[] = [];
  const gateways: TestGateway[] = [];

  beforeAll(async () => {
    h = await setup({ postgres: true });
    backend = await startBackend(h, { participant: { RESUME_TOKEN_SECRET: resumeSecret } });
    participant = backend.participant;
    // No clock tolerance: a socket closes at its token's exp itself.
    gw = await startTestGateway(h, { JWT_CLOCK_TOLERANCE_SECONDS: '0' });
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    for (const p of proxies.splice(0)) await p.close();
    for (const g of gateways.splice(0)) await g.stop();
  });
  afterAll(async () => {
    await gw?.stop();
    if (participant !== backend?.participant) await participant?.stop();
    await backend?.stop();
    await h?.cleanup();
  });

  /** Replaces the participant service with a fresh one (same database, same resume secret), as a restart would. */
  async function replaceParticipant(overrides: Record<string, string> = {}) {
    await participant.stop();
    participant = await restartParticipant(h, { RESUME_TOKEN_SECRET: resumeSecret, ...overrides });
  }

  async function participants(m: TestMeeting, includeLeft = false) {
    const res = await rpcClient(h.nc, ParticipantRpc, { timeoutMs: 3_000 }).listParticipants({ meetingId: m.meetingId, userId: m.tutorId, includeLeft });
    return res.participants;
  }

  async function session(m: TestMeeting, sessionId: string) {
    return (await participants(m, true)).find((p) => p.sessionId === sessionId);
  }

  async function proxy(to: TestGateway = gw) {
    const p = await startTcpProxy({ host: '127.0.0.1', port: to.gateway.port });
    proxies.push(p);
    return p;
  }

  async function gateway(overrides: Record<string, string> = {}, options: { random?: () => number } = {}) {
    const g = await startTestGateway(h, { JWT_SECRET: gw.config.JWT_SECRET, WS_RECONNECT_SPREAD_MS: '200', ...overrides }, options);
    gateways.push(g);
    return g;
  }

  interface Recorded {
    messages: ServerMessage[];
    reconnecting: { attempt: number; cause: GatewayError | undefined }[];
    rejoined: { sessionId: string; resumed: boolean }[];
    closed: SignalingClosed[];
    /** What the client put on the wire, decoded. */
    sent: ClientMessage[];
    /** Every socket the client opened, with when, and the close code it got. */
    sockets: { ws: WebSocket; openedAt: number; closeCode?: number }[];
    /** The gateway's reconnect notices, with when they came. */
    notices: { afterMs: number; at: number }[];
    /** The access tokens hello() handed out, in order. */
    tokens: string[];
  }

  interface ClientOptions extends Partial<SignalingOptions> {
    who?: 'tutor' | 'student';
    passcode?: string;
    /** Connect here instead of the shared gateway (a proxy's port, a closed port, another gateway). */
    port?: number;
    /** The token of the first hello (later hellos get fresh ones). */
    firstToken?: string;
  }

  function client(m: TestMeeting, opts: ClientOptions = {}) {
    const rec: Recorded = { messages: [], reconnecting: [], rejoined: [], closed: [], sent: [], sockets: [], notices: [], tokens: [] };
    const events: SignalingEvents = {
      message: (msg) => rec.messages.push(msg),
      reconnecting: (attempt, cause) => rec.reconnecting.push({ attempt, cause }),
      rejoined: (w) => rec.rejoined.push({ sessionId: w.sessionId, resumed: w.resumed }),
      closed: (r) => rec.closed.push(r),
    };
    const userId = (opts.who ?? 'student') === 'tutor' ? m.tutorId : m.studentId;
    const createSocket = (url: string) => {
      const ws = new WebSocket(url);
      const entry: Recorded['sockets'][number] = { ws, openedAt: Date.now() };
      rec.sockets.push(entry);
      ws.on('close', (code) => {
        entry.closeCode = code;
      });
      ws.on('message', (data) => {
        const msg = decode(ServerMessageSchema, data.toString());
        if (msg.kind.case === 'reconnect') rec.notices.push({ afterMs: msg.kind.value.afterMs, at: Date.now() });
      });
      const send = ws.send.bind(ws);
      (ws as { send(data: string): void }).send = (data: string) => {
        rec.sent.push(decode(ClientMessageSchema, data));
        send(data);
      };
      return ws as unknown as WebSocketLike;
    };
    const c = new SignalingClient(
      {
        url: `ws://127.0.0.1:${opts.port ?? gw.gateway.port}/api/video/ws?meeting=${m.meetingId}`,
        createSocket,
        hello: async () => {
          const accessToken = rec.tokens.length === 0 && opts.firstToken ? opts.firstToken : await gw.tokenFor(userId);
          rec.tokens.push(accessToken);
          return { accessToken, meetingId: m.meetingId, passcode: opts.passcode ?? m.passcode, displayName: opts.who ?? 'student' };
        },
        reconnect: { initialDelayMs: 20, maxDelayMs: 200, giveUpAfterMs: 30_000 },
        heartbeatMs: 200,
        // Short, for the silent-link test, yet well above a busy machine's pauses: an idle
        // timeout of its own would be a drop no test caused.
        idleTimeoutMs: 1_500,
        ...opts,
      },
      events,
    );
    clients.push(c);
    const hellos = () => rec.sent.flatMap((msg) => (msg.kind.case === 'hello' ? [msg.kind.value] : []));
    /** Kills the client's socket without a close handshake, as a dropped network does. */
    const drop = () => rec.sockets.at(-1)?.ws.terminate();
    return { c, rec, hellos, drop };
  }

  /** A client of `m` that has joined: its welcome is `w`. */
  async function joined(m: TestMeeting, opts: ClientOptions = {}) {
    const x = client(m, opts);
    return { ...x, w: await x.c.join() };
  }

  /** Waits for the client's first rejoin, which must have resumed the session it had. */
  async function resumed(x: { rec: Recorded; w: { sessionId: string } }, timeoutMs = 5_000) {
    await until('rejoined', () => x.rec.rejoined.length === 1, timeoutMs);
    expect(x.rec.rejoined[0]).toEqual({ sessionId: x.w.sessionId, resumed: true });
  }

  const candidate = { type: 'candidate', candidate: { candidate: 'candidate:1 1 udp 1 127.0.0.1 5000 typ host', sdpMid: '0', sdpMLineIndex: 0 } } as const;

  it('sends hello as the first message and resolves with the welcome of a live session', async () => {
    const m = await backend.createMeeting();
    const { c, rec } = client(m);
    const welcome = await c.join();
    expect(c.state).toBe('open');
    expect(welcome.resumed).toBe(false);
    expect(welcome.userType).toBe('student');
    // The gateway took that hello: the participant service has the session, connected.
    expect(await session(m, welcome.sessionId)).toMatchObject({ userId: m.studentId, connected: true, leftReason: '' });
    const first = rec.sent[0];
    expect(first?.kind.case).toBe('hello');
    expect(first?.requestId).not.toBe('');
    if (first?.kind.case === 'hello') {
      expect(first.kind.value).toMatchObject({ accessToken: rec.tokens[0], meetingId: m.meetingId, passcode: m.passcode, resumeSessionId: '' });
      // The trace the gateway continues through the join.
      expect(first.kind.value.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    }
  });

  it('rejects join with the gateway error code and its details', async () => {
    const m = await backend.createMeeting();
    const { c } = client(m, { passcode: '000000' });
    const err = await c.join().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GatewayError);
    // The meeting service allows 5 failures (PASSCODE_MAX_FAILURES): this was the first.
    expect(err).toMatchObject({ code: 'passcode_invalid', attemptsLeft: 4 });
    expect(c.state).toBe('closed');
  });

  it('reports an unreachable gateway as unavailable', async () => {
    const m = await backend.createMeeting();
    const { c } = client(m, { port: await freePort() });
    await expect(c.join()).rejects.toMatchObject({ code: 'unavailable' });
  });

  it('resumes the same session after the socket drops, and delivers signals queued meanwhile', async () => {
    const m = await backend.createMeeting();
    const a = await joined(m);
    const b = await joined(m, { who: 'tutor' });

    a.drop();
    // The recorded callback, not the state: the resume may be done before a poll sees the
    // transient 'reconnecting' (a clean-clone CI run missed it that way).
    await until('reconnecting', () => a.rec.reconnecting.length > 0);
    // Sent while the socket is down: must arrive after the resume, from the same session.
    a.c.signal(b.w.sessionId, candidate);

    await resumed(a);
    expect(a.rec.reconnecting[0]?.attempt).toBe(1);
    expect(a.hellos()[1]).toMatchObject({ resumeSessionId: a.w.sessionId, resumeToken: a.w.resumeToken, accessToken: a.rec.tokens[1] });

    const got = await until('queued signal', () => b.rec.messages.find((msg) => msg.kind.case === 'signal'));
    expect(got.kind.case === 'signal' && got.kind.value.fromSessionId).toBe(a.w.sessionId);
    expect(got.kind.case === 'signal' && got.kind.value.signal?.candidate?.sdpMid).toBe('0');
  });

  it('keeps trying with backoff while the gateway answers unavailable, then resumes', async () => {
    const m = await backend.createMeeting();
    const x = await joined(m);
    const { rec } = x;
    // No participant service: the gateway answers every hello `unavailable`.
    await participant.stop();
    x.drop();
    await until('two refused attempts', () => rec.reconnecting.filter((r) => r.cause?.code === 'unavailable').length >= 2, 10_000);
    participant = await restartParticipant(h, { RESUME_TOKEN_SECRET: resumeSecret });
    await resumed(x, 10_000);
    expect(rec.reconnecting.map((r) => r.attempt)).toEqual(rec.reconnecting.map((_, i) => i + 1));
    expect(rec.reconnecting[1]?.cause?.code).toBe('unavailable');
  });

  it('obeys a reconnect notice: comes back after the announced delay and resumes', async () => {
    const m = await backend.createMeeting();
    // The spread pinned at its middle: the notice asks for 200 ms, far above the 1 ms backoff.
    const doomed = await gateway({ WS_RECONNECT_SPREAD_MS: '400' }, { random: () => 0.5 });
    const port = doomed.gateway.port;
    // A backoff far below the notice's delay, so coming back early would show.
    const x = await joined(m, { port, reconnect: { initialDelayMs: 1, maxDelayMs: 50, giveUpAfterMs: 30_000 } });
    const { rec } = x;
    // A drain tells every socket to come back after a spread; its successor takes the same port.
    await doomed.stop();
    gateways.splice(gateways.indexOf(doomed), 1);
    await gateway({ PORT: String(port) });
    await resumed(x, 10_000);
    const notice = rec.notices[0];
    if (!notice) throw new Error('no reconnect notice');
    expect(notice.afterMs).toBe(200);
    expect(rec.sockets[0]?.closeCode).toBe(1012);
    // The first socket after the notice was opened no sooner than the notice asked.
    expect((rec.sockets[1]?.openedAt ?? 0) - notice.at).toBeGreaterThanOrEqual(notice.afterMs - 2);
  });

  it('joins afresh when the resume is refused (the grace period ended), and says the session is new', async () => {
    const m = await backend.createMeeting();
    const p = await proxy();
    const { c, rec, hellos, w } = await joined(m, { port: p.port });
    // Away for longer than a 1 s grace period: the sweep closes the session. (Replaced before the
    // cut, so the gateway's report that the socket closed finds a participant service.)
    await replaceParticipant({ PRESENCE_GRACE_SECONDS: '1', SWEEP_INTERVAL_MS: '100' });
    p.cut();
    try {
      await until('session timed out', async () => (await session(m, w.sessionId))?.leftReason === 'timeout', 10_000);
      p.restore();
      await until('rejoined', () => rec.rejoined.length === 1, 10_000);
    } finally {
      await replaceParticipant();
    }
    expect(rec.rejoined[0]?.resumed).toBe(false);
    expect(rec.rejoined[0]?.sessionId).not.toBe(w.sessionId);
    expect(c.currentSessionId).toBe(rec.rejoined[0]?.sessionId);
    expect(hellos().map((x) => x.resumeSessionId)).toEqual(['', w.sessionId, '']);
  });

  it('stops when the gateway refuses for good (meeting ended while away)', async () => {
    const m = await backend.createMeeting();
    const p = await proxy();
    const { c, rec } = await joined(m, { port: p.port });
    p.cut();
    await until('reconnecting', () => c.state === 'reconnecting');
    await rpcClient(h.nc, MeetingRpc, { timeoutMs: 3_000 }).endMeeting({ meetingId: m.meetingId, userId: m.tutorId });
    p.restore();
    await until('closed', () => rec.closed.length === 1, 10_000);
    expect(rec.closed[0]).toMatchObject({ type: 'rejected', error: { code: 'meeting_ended' } });
    expect(c.state).toBe('closed');
  });

  it('notices a silent connection by the missing pongs and reconnects', async () => {
    const m = await backend.createMeeting();
    const p = await proxy();
    const x = await joined(m, { port: p.port });
    p.blackhole();
    await resumed(x, 5_000);
    expect(x.rec.reconnecting[0]?.cause?.code).toBe('unavailable');
  });

  it('a dropped connection from the client side resumes too', async () => {
    const m = await backend.createMeeting();
    const x = await joined(m);
    x.c.dropConnection();
    expect(x.c.state).toBe('reconnecting');
    await resumed(x);
  });

  it('leave sends leave, closes, and never reconnects', async () => {
    const m = await backend.createMeeting();
    const { c, rec, w } = await joined(m);
    c.leave();
    expect(c.state).toBe('closed');
    expect(rec.sent.at(-1)?.kind.case).toBe('leave');
    await until('session left', async () => (await session(m, w.sessionId))?.leftReason === 'left');
    // A reconnect would have begun with a `reconnecting` event the moment the socket closed.
    expect(rec.reconnecting).toEqual([]);
    expect(rec.sockets).toHaveLength(1);
    expect(rec.closed).toEqual([{ type: 'left' }]);
  });

  it('leaving while the hello is in flight still ends the session it created', async () => {
    const m = await backend.createMeeting();
    const tutor = await joined(m, { who: 'tutor' });
    const { c } = client(m);
    const joining = c.join();
    c.leave();
    await expect(joining).rejects.toBeInstanceOf(GatewayError);
    // The tutor saw the student's session arrive and leave.
    const left = await until('peerLeft', () => tutor.rec.messages.find((msg) => msg.kind.case === 'peerLeft'));
    expect(left.kind.case === 'peerLeft' && left.kind.value.reason).toBe('left');
    expect((await participants(m)).map((x) => x.userId)).toEqual([m.tutorId]);
  });

  it('a socket closed because its access token expired resumes the same session with a fresh token', async () => {
    const m = await backend.createMeeting();
    const x = await joined(m, { firstToken: await gw.tokenFor(m.studentId, { expiresInSeconds: 2 }) });
    const { rec, hellos, w } = x;
    await resumed(x, 10_000);
    expect(rec.sockets[0]?.closeCode).toBe(wsCloseCodes.tokenExpired);
    // hello() is asked again, so the resume carries a token that has not expired.
    expect(rec.tokens[1]).not.toBe(rec.tokens[0]);
    expect(hellos()[1]).toMatchObject({ resumeSessionId: w.sessionId, accessToken: rec.tokens[1] });
    expect(rec.closed).toEqual([]);
  });

  it('does not fight over a session taken over by another connection', async () => {
    const m = await backend.createMeeting();
    const { rec, w } = await joined(m);
    // Another tab resumes the same session.
    const other = await joinAs(gw, m, 'student', { resume: { sessionId: w.sessionId, resumeToken: w.resumeToken } });
    try {
      await until('closed', () => rec.closed.length === 1);
      expect(rec.sockets[0]?.closeCode).toBe(wsCloseCodes.superseded);
      expect(rec.closed[0]).toMatchObject({ type: 'rejected', error: { code: 'conflict' } });
      expect(rec.reconnecting).toEqual([]);
      // Sentinel: the other tab still holds the session, and it stays connected.
      other.c.send({ requestId: 'still-here', kind: { case: 'ping', value: {} } });
      await other.c.next('pong', (_v, msg) => msg.requestId === 'still-here');
      expect(await session(m, w.sessionId)).toMatchObject({ connected: true, leftReason: '' });
      expect(rec.sockets).toHaveLength(1);
    } finally {
      other.c.close();
    }
  });

  async function removeByTutor(m: TestMeeting, sessionId: string) {
    const res = await call(gw.url, 'POST', `/api/video/meetings/${m.meetingId}/participants/${sessionId}/remove`, { token: await gw.tokenFor(m.tutorId) });
    expect(res.status, res.text).toBe(200);
  }

  it('a removal by the tutor ends the call for good: no resume, no fresh join', async () => {
    const m = await backend.createMeeting();
    const { rec, w } = await joined(m);
    await removeByTutor(m, w.sessionId);
    await until('closed', () => rec.closed.length === 1);
    expect(rec.closed[0]).toMatchObject({ type: 'rejected', error: { code: 'removed_from_meeting' } });
    expect(rec.messages.map((msg) => msg.kind.case)).toContain('removed');
    await until('socket closed', () => rec.sockets[0]?.closeCode !== undefined);
    expect(rec.reconnecting).toEqual([]);
    expect(rec.sockets).toHaveLength(1);
    expect(await session(m, w.sessionId)).toMatchObject({ leftReason: 'removed' });
  });

  it('removed while away: the refused resume ends the call instead of joining afresh', async () => {
    const m = await backend.createMeeting();
    const p = await proxy();
    const { c, rec, hellos, w } = await joined(m, { port: p.port });
    p.cut();
    await until('reconnecting', () => c.state === 'reconnecting');
    await removeByTutor(m, w.sessionId);
    p.restore();
    await until('closed', () => rec.closed.length === 1, 10_000);
    expect(rec.closed[0]).toMatchObject({ type: 'rejected', error: { code: 'removed_from_meeting' } });
    expect(hellos().map((x) => x.resumeSessionId)).toEqual(['', w.sessionId]);
  });

  it('gives up after the deadline when the gateway never comes back', async () => {
    const m = await backend.createMeeting();
    const g = await gateway();
    const { rec } = await joined(m, { port: g.gateway.port, reconnect: { initialDelayMs: 20, maxDelayMs: 50, giveUpAfterMs: 500 } });
    await g.stop();
    gateways.splice(gateways.indexOf(g), 1);
    await until('closed', () => rec.closed.length === 1, 5_000);
    expect(rec.closed[0]?.type).toBe('gave-up');
    expect(rec.reconnecting.length).toBeGreaterThan(1);
  });
});

/** Polls `check` (which may be async) until it returns something truthy. */
function until<T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 5_000): Promise<T> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const tick = () => {
      Promise.resolve(check()).then((v) => {
        if (v) resolve(v);
        else if (Date.now() - started > timeoutMs) reject(new Error(`timed out waiting for ${what}`));
        else setTimeout(tick, 20);
      }, reject);
    };
    tick();
  });
}
