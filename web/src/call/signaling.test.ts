import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { wsCloseCodes } from '@lessoncall/proto';
import { GatewayError } from './errors';
import type { ServerMessage } from './protocol';
import { type SignalingClosed, SignalingClient, type SignalingEvents, type SignalingOptions, type WebSocketLike } from './signaling';
import { TestGateway, type TestGatewayOptions } from './test-gateway';

const gateways: TestGateway[] = [];
const clients: SignalingClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const g of gateways.splice(0)) await g.stop();
});

async function gateway(options: TestGatewayOptions = {}) {
  const g = await TestGateway.start(options);
  gateways.push(g);
  return g;
}

function until<T>(what: string, check: () => T | undefined | false, timeoutMs = 5_000): Promise<T> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const tick = () => {
      const v = check();
      if (v) resolve(v);
      else if (Date.now() - started > timeoutMs) reject(new Error(`timed out waiting for ${what}`));
      else setTimeout(tick, 10);
    };
    tick();
  });
}

interface Recorded {
  messages: ServerMessage[];
  reconnecting: { attempt: number; cause: GatewayError | undefined }[];
  rejoined: { sessionId: string; resumed: boolean }[];
  closed: SignalingClosed[];
}

function client(g: TestGateway, opts: Partial<SignalingOptions> & { passcode?: string } = {}) {
  const rec: Recorded = { messages: [], reconnecting: [], rejoined: [], closed: [] };
  const events: SignalingEvents = {
    message: (m) => rec.messages.push(m),
    reconnecting: (attempt, cause) => rec.reconnecting.push({ attempt, cause }),
    rejoined: (w) => rec.rejoined.push({ sessionId: w.sessionId, resumed: w.resumed }),
    closed: (r) => rec.closed.push(r),
  };
  let tokens = 0;
  const c = new SignalingClient(
    {
      url: opts.url ?? g.url,
      createSocket: (url) => new WebSocket(url) as unknown as WebSocketLike,
      hello: async () => ({ accessToken: `token-${++tokens}`, meetingId: 'MID-ABCDEFGHJKMNPQRS', passcode: opts.passcode ?? '123456', displayName: 'Sam' }),
      reconnect: { initialDelayMs: 20, maxDelayMs: 200, giveUpAfterMs: 5_000 },
      heartbeatMs: 50,
      idleTimeoutMs: 300,
      ...opts,
    },
    events,
  );
  clients.push(c);
  return { c, rec };
}

describe('SignalingClient', () => {
  it('sends hello as the first message and resolves with the welcome', async () => {
    const g = await gateway();
    const { c } = client(g);
    const welcome = await c.join();
    expect(welcome.sessionId).toMatch(/^sess-/);
    expect(c.state).toBe('open');
    const first = g.received[0];
    expect(first?.kind.case).toBe('hello');
    expect(first?.requestId).not.toBe('');
    if (first?.kind.case === 'hello') {
      expect(first.kind.value).toMatchObject({ accessToken: 'token-1', meetingId: 'MID-ABCDEFGHJKMNPQRS', passcode: '123456', resumeSessionId: '' });
      // The trace the gateway continues through the join.
      expect(first.kind.value.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    }
  });

  it('rejects join with the gateway error code and its details', async () => {
    const g = await gateway();
    const { c } = client(g, { passcode: '000000' });
    const err = await c.join().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GatewayError);
    expect(err).toMatchObject({ code: 'passcode_invalid', attemptsLeft: 4 });
    expect(c.state).toBe('closed');
  });

  it('reports an unreachable gateway as unavailable', async () => {
    const g = await gateway();
    const url = g.url;
    await g.stop();
    gateways.length = 0;
    const { c } = client(g, { url });
    await expect(c.join()).rejects.toMatchObject({ code: 'unavailable' });
  });

  it('resumes the same session after the socket drops, and delivers signals queued meanwhile', async () => {
    const g = await gateway();
    const a = client(g);
    const b = client(g);
    const wa = await a.c.join();
    const wb = await b.c.join();

    g.drop(wa.sessionId);
    await until('reconnecting', () => a.c.state === 'reconnecting');
    // Sent while the socket is down: must arrive after the resume, from the same session.
    a.c.signal(wb.sessionId, { type: 'candidate', candidate: { candidate: 'candidate:1 1 udp 1 127.0.0.1 5000 typ host', sdpMid: '0', sdpMLineIndex: 0 } });

    await until('rejoined', () => a.rec.rejoined.length === 1);
    expect(a.rec.rejoined[0]).toEqual({ sessionId: wa.sessionId, resumed: true });
    expect(a.rec.reconnecting[0]?.attempt).toBe(1);
    const resumeHello = g.sessions.get(wa.sessionId)?.hellos[1];
    expect(resumeHello).toMatchObject({ resumeSessionId: wa.sessionId, resumeToken: wa.resumeToken, accessToken: 'token-2' });

    const got = await until('queued signal', () => b.rec.messages.find((m) => m.kind.case === 'signal'));
    expect(got.kind.case === 'signal' && got.kind.value.fromSessionId).toBe(wa.sessionId);
    expect(got.kind.case === 'signal' && got.kind.value.signal?.candidate?.sdpMid).toBe('0');
  });

  it('keeps trying with backoff while the gateway is unreachable, then resumes', async () => {
    const g = await gateway();
    const { c, rec } = client(g);
    const w = await c.join();
    // Refuse the next two hellos as an overloaded gateway would.
    g.options.rejectHellos = [{ code: 'unavailable' }, { code: 'unavailable' }];
    g.drop(w.sessionId);
    await until('rejoined', () => rec.rejoined.length === 1);
    expect(rec.reconnecting.map((r) => r.attempt)).toEqual([1, 2, 3]);
    expect(rec.reconnecting[1]?.cause?.code).toBe('unavailable');
    expect(rec.rejoined[0]?.resumed).toBe(true);
  });

  it('obeys a reconnect notice: comes back after the announced delay and resumes', async () => {
    const g = await gateway();
    const { c, rec } = client(g);
    const w = await c.join();
    const socket = g.sessions.get(w.sessionId)?.socket;
    if (!socket) throw new Error('no socket');
    const noticeAt = Date.now();
    g.send(socket, { kind: { case: 'reconnect', value: { afterMs: 150 } } });
    socket.close(1012, 'restarting');
    await until('rejoined', () => rec.rejoined.length === 1);
    expect(Date.now() - noticeAt).toBeGreaterThanOrEqual(140);
    expect(rec.rejoined[0]).toEqual({ sessionId: w.sessionId, resumed: true });
  });

  it('joins afresh when the resume is refused, and says the session is new', async () => {
    const g = await gateway();
    const { c, rec } = client(g);
    const w = await c.join();
    g.options.refuseResume = true;
    g.drop(w.sessionId);
    await until('rejoined', () => rec.rejoined.length === 1);
    expect(rec.rejoined[0]?.resumed).toBe(false);
    expect(rec.rejoined[0]?.sessionId).not.toBe(w.sessionId);
    expect(c.currentSessionId).toBe(rec.rejoined[0]?.sessionId);
    const hellos = g.receivedOf('hello').map((m) => m.kind.value.resumeSessionId);
    expect(hellos).toEqual(['', w.sessionId, '']);
  });

  it('stops when the gateway refuses for good (meeting ended while away)', async () => {
    const g = await gateway();
    const { c, rec } = client(g);
    const w = await c.join();
    g.options.rejectHellos = [{ code: 'meeting_ended' }];
    g.drop(w.sessionId);
    await until('closed', () => rec.closed.length === 1);
    expect(rec.closed[0]).toMatchObject({ type: 'rejected', error: { code: 'meeting_ended' } });
    expect(c.state).toBe('closed');
  });

  it('notices a silent connection by the missing pongs and reconnects', async () => {
    const g = await gateway({ answerPings: false });
    const { c, rec } = client(g);
    const w = await c.join();
    await until('rejoined', () => rec.rejoined.length === 1, 3_000);
    expect(rec.reconnecting[0]?.cause?.code).toBe('unavailable');
    expect(rec.rejoined[0]?.sessionId).toBe(w.sessionId);
  });

  it('a dropped connection from the client side resumes too', async () => {
    const g = await gateway();
    const { c, rec } = client(g);
    const w = await c.join();
    c.dropConnection();
    expect(c.state).toBe('reconnecting');
    await until('rejoined', () => rec.rejoined.length === 1);
    expect(rec.rejoined[0]).toEqual({ sessionId: w.sessionId, resumed: true });
  });

  it('leave sends leave, closes, and never reconnects', async () => {
    const g = await gateway();
    const { c, rec } = client(g);
    await c.join();
    c.leave();
    expect(c.state).toBe('closed');
    await until('leave received', () => g.receivedOf('leave').length === 1);
    await new Promise((r) => setTimeout(r, 150));
    expect(g.receivedOf('hello')).toHaveLength(1);
    expect(rec.closed).toEqual([{ type: 'left' }]);
  });

  it('leaving while the hello is in flight still ends the session it created', async () => {
    const g = await gateway();
    const { c } = client(g);
    const joining = c.join();
    c.leave();
    await expect(joining).rejects.toBeInstanceOf(GatewayError);
    await until('leave received', () => g.receivedOf('leave').length === 1);
    expect(g.sessions.size).toBe(0);
  });

  it('a socket closed because its access token expired resumes the same session with a fresh token', async () => {
    const g = await gateway();
    const { c, rec } = client(g);
    const w = await c.join();
    g.sessions.get(w.sessionId)?.socket?.close(wsCloseCodes.tokenExpired, 'access token expired');
    await until('rejoined', () => rec.rejoined.length === 1);
    expect(rec.rejoined[0]).toEqual({ sessionId: w.sessionId, resumed: true });
    // hello() is asked again, so the auth hands out a token that has not expired.
    expect(g.sessions.get(w.sessionId)?.hellos[1]).toMatchObject({ resumeSessionId: w.sessionId, accessToken: 'token-2' });
    expect(rec.closed).toEqual([]);
  });

  it('does not fight over a session taken over by another connection', async () => {
    const g = await gateway();
    const { c, rec } = client(g);
    const w = await c.join();
    g.sessions.get(w.sessionId)?.socket?.close(wsCloseCodes.superseded, 'session resumed on another connection');
    await until('closed', () => rec.closed.length === 1);
    expect(rec.closed[0]).toMatchObject({ type: 'rejected', error: { code: 'conflict' } });
    expect(g.receivedOf('hello')).toHaveLength(1);
  });

  it('a removal notice ends the call for good: no resume, no fresh join', async () => {
    const g = await gateway();
    const { c, rec } = client(g);
    const w = await c.join();
    const socket = g.sessions.get(w.sessionId)?.socket;
    if (!socket) throw new Error('no socket');
    g.send(socket, {
      kind: { case: 'removed', value: { meetingId: 'MID-ABCDEFGHJKMNPQRS', byUserId: 'tutor', message: 'The tutor removed you from this lesson' } },
    });
    socket.close(wsCloseCodes.removed, 'removed by the tutor');
    await until('closed', () => rec.closed.length === 1);
    expect(rec.closed[0]).toMatchObject({ type: 'rejected', error: { code: 'removed_from_meeting', message: 'The tutor removed you from this lesson' } });
    expect(rec.messages.map((m) => m.kind.case)).toContain('removed');
    // Sentinel: a socket of a second client joins and gets its welcome; the removed one never said hello again.
    await client(g).c.join();
    expect(g.receivedOf('hello')).toHaveLength(2);
    expect(rec.reconnecting).toEqual([]);
  });

  it('the removal close code alone (the notice lost) ends the call the same way', async () => {
    const g = await gateway();
    const { c, rec } = client(g);
    const w = await c.join();
    g.sessions.get(w.sessionId)?.socket?.close(wsCloseCodes.removed, 'removed by the tutor');
    await until('closed', () => rec.closed.length === 1);
    expect(rec.closed[0]).toMatchObject({ type: 'rejected', error: { code: 'removed_from_meeting' } });
    expect(rec.reconnecting).toEqual([]);
  });

  it('removed while away: the refused resume ends the call instead of joining afresh', async () => {
    const g = await gateway();
    const { c, rec } = client(g);
    const w = await c.join();
    g.options.rejectHellos = [{ code: 'removed_from_meeting' }];
    g.drop(w.sessionId);
    await until('closed', () => rec.closed.length === 1);
    expect(rec.closed[0]).toMatchObject({ type: 'rejected', error: { code: 'removed_from_meeting' } });
    expect(g.receivedOf('hello').map((m) => m.kind.value.resumeSessionId)).toEqual(['', w.sessionId]);
  });

  it('gives up after the deadline when the gateway never comes back', async () => {
    const g = await gateway();
    const { c, rec } = client(g, { reconnect: { initialDelayMs: 20, maxDelayMs: 50, giveUpAfterMs: 300 } });
    await c.join();
    await g.stop();
    gateways.length = 0;
    await until('closed', () => rec.closed.length === 1, 3_000);
    expect(rec.closed[0]?.type).toBe('gave-up');
    expect(rec.reconnecting.length).toBeGreaterThan(1);
  });
});
