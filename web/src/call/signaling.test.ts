import { create, toJson } from '@bufbuild/protobuf';
import { ServerMessageSchema, wsCloseCodes } from '@lessoncall/proto';
import { expect, it } from 'vitest';
import { type SignalingClosed, SignalingClient, type WebSocketLike } from './signaling';

// Everything else SignalingClient does is tested against the real gateway (web/test/signaling-client.test.ts).
// This is the one case the gateway never produces: it always sends the `removed` notice before
// closing with 4403, so losing the notice needs a socket of our own.

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
