import { create, toJson } from '@bufbuild/protobuf';
import { ServerMessageSchema, wsCloseCodes } from '@lessoncall/proto';
import { expect, it } from 'vitest';
import { type SignalingClosed, SignalingClient, type WebSocketLike } from './signaling';

// Everything else SignalingClient does is tested against the real gateway (web/test/signaling-client.test.ts).
// These are the cases the gateway never produces on cue: it always sends the `removed` notice
// before closing with 4403, and it does not lose a welcome on request, so each needs a socket of
// our own.

/** A socket that is open at once and answers the hello with a welcome. */
class WelcomingSocket implements WebSocketLike {
  readyState = 0;
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;

  constructor() {
    queueMicrotask(() => {
      this.readyState = 1;
      this.onopen?.({});
    });
  }

  send(data: string): void {
    const { requestId } = JSON.parse(data) as { requestId: string };
    const welcome = create(ServerMessageSchema, { requestId, kind: { case: 'welcome', value: { sessionId: 's1', resumeToken: 't1', userType: 'student' } } });
    queueMicrotask(() => this.onmessage?.({ data: JSON.stringify(toJson(ServerMessageSchema, welcome)) }));
  }

  close(code: number = wsCloseCodes.normal, reason = ''): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
}

it('the removal close code alone (the notice lost) ends the call for good', async () => {
  const sockets: WelcomingSocket[] = [];
  const closed: SignalingClosed[] = [];
  const reconnecting: number[] = [];
  const c = new SignalingClient(
    {
      url: 'ws://gateway.test/api/video/ws',
      createSocket: () => {
        const s = new WelcomingSocket();
        sockets.push(s);
        return s;
      },
      hello: async () => ({ accessToken: 'token', meetingId: 'MID-ABCDEFGHJKMNPQRS', passcode: '123456', displayName: 'Sam' }),
    },
    { closed: (r) => closed.push(r), reconnecting: (attempt) => reconnecting.push(attempt) },
  );
  await c.join();
  sockets[0]?.close(wsCloseCodes.removed, 'removed by the tutor');
  // The close is handled synchronously: a reconnect would have announced itself by now.
  expect(closed).toMatchObject([{ type: 'rejected', error: { code: 'removed_from_meeting' } }]);
  expect(reconnecting).toEqual([]);
  expect(c.state).toBe('closed');
  expect(sockets).toHaveLength(1);
});

type Hello = { resumeSessionId?: string; joinKey?: string };

/** A socket that answers its hello as the script says: a welcome, an error, or a close before either. */
class ScriptedSocket extends WelcomingSocket {
  hello: Hello | undefined;

  constructor(
    private readonly answer: 'welcome' | 'close' | { error: string },
    private readonly sessionId: string,
  ) {
    super();
  }

  override send(data: string): void {
    const { requestId, hello } = JSON.parse(data) as { requestId: string; hello?: Hello };
    if (!hello) return;
    this.hello = hello;
    const a = this.answer;
    if (a === 'close') {
      queueMicrotask(() => this.close(1011, 'gateway gone'));
      return;
    }
    const kind =
      a === 'welcome'
        ? { case: 'welcome' as const, value: { sessionId: this.sessionId, resumeToken: `t-${this.sessionId}`, userType: 'student' } }
        : { case: 'error' as const, value: { code: a.error, message: a.error } };
    const msg = create(ServerMessageSchema, { requestId, kind });
    queueMicrotask(() => this.onmessage?.({ data: JSON.stringify(toJson(ServerMessageSchema, msg)) }));
  }
}

it('a fresh join whose welcome is lost is retried with the same join key; a resume carries none, the next fresh join a new one', async () => {
  const script: Array<ConstructorParameters<typeof ScriptedSocket>> = [
    ['welcome', 's1'], // the join
    [{ error: 'resume_rejected' }, ''], // after a drop: the session is gone
    ['close', ''], // a fresh join: the gateway goes before its welcome
    ['welcome', 's2'], // the same join again: the same key
    [{ error: 'resume_rejected' }, ''], // after another drop: a resume, refused
    ['welcome', 's3'], // a new fresh join
  ];
  const sockets: ScriptedSocket[] = [];
  const c = new SignalingClient(
    {
      url: 'ws://gateway.test/api/video/ws',
      createSocket: () => {
        const next = script[sockets.length];
        if (!next) throw new Error('more sockets than the script has');
        const s = new ScriptedSocket(...next);
        sockets.push(s);
        return s;
      },
      hello: async () => ({ accessToken: 'token', meetingId: 'MID-ABCDEFGHJKMNPQRS', passcode: '123456', displayName: 'Sam' }),
      reconnect: { initialDelayMs: 1, maxDelayMs: 1 },
    },
    {},
  );
  const settled = async (n: number) => {
    for (let i = 0; i < 200 && !(sockets.length >= n && c.state === 'open' && c.currentSessionId); i++) await new Promise((r) => setTimeout(r, 5));
  };
  await c.join();
  sockets[0]?.close(1006, 'dropped');
  await settled(4);
  expect(c.currentSessionId).toBe('s2');
  sockets[3]?.close(1006, 'dropped');
  await settled(6);
  expect(c.currentSessionId).toBe('s3');
  c.close();
  const [join, refused, lost, retried, refusedAgain, fresh] = sockets.map((s) => s.hello ?? {});
  expect(join?.joinKey).toMatch(/^[0-9a-f-]{36}$/);
  expect(refused).toEqual({
    resumeSessionId: 's1',
    resumeToken: 't-s1',
    traceparent: expect.any(String),
    accessToken: 'token',
    meetingId: 'MID-ABCDEFGHJKMNPQRS',
    passcode: '123456',
    displayName: 'Sam',
  });
  expect(lost?.joinKey).toMatch(/^[0-9a-f-]{36}$/);
  expect(lost?.joinKey).not.toBe(join?.joinKey);
  expect(retried?.joinKey).toBe(lost?.joinKey);
  expect(refusedAgain).toMatchObject({ resumeSessionId: 's2', resumeToken: 't-s2' });
  expect(refusedAgain?.joinKey).toBeUndefined();
  expect(fresh?.joinKey).toMatch(/^[0-9a-f-]{36}$/);
  expect(new Set([join?.joinKey, lost?.joinKey, fresh?.joinKey]).size).toBe(3);
});
