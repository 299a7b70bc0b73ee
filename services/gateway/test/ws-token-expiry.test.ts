import { type Harness, setup } from '@lessoncall/kit/testing';
import { wsCloseCodes } from '@lessoncall/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Backend, startBackend, startTestGateway, type TestGateway } from './helpers';
import { HelloError, WsClient } from './ws-client';

describe("a WebSocket session lives no longer than its token's exp", () => {
  let h: Harness;
  let backend: Backend;
  let gw: TestGateway;
  beforeAll(async () => {
    h = await setup({ postgres: true });
    backend = await startBackend(h);
    // No clock tolerance: the socket closes at exp itself, and the old token is refused at once.
    gw = await startTestGateway(h, { JWT_CLOCK_TOLERANCE_SECONDS: '0' });
  });
  afterAll(async () => {
    await gw?.stop();
    await backend?.stop();
    await h?.cleanup();
  });

  it('closes with tokenExpired at exp; the client resumes the same session with a fresh token, never with the old one', async () => {
    const m = await backend.createMeeting();
    const shortLived = await gw.tokenFor(m.studentId, { expiresInSeconds: 2 });
    const c = await WsClient.open(gw.wsUrl);
    const welcome = await c.hello({ accessToken: shortLived, meetingId: m.meetingId, passcode: m.passcode });
    const started = Date.now();
    const closed = await c.closed;
    expect(closed).toEqual({ code: wsCloseCodes.tokenExpired, reason: 'access token expired' });
    // Not before the token's exp (whole seconds), and not long after it.
    expect(Date.now() - started).toBeLessThan(5_000);

    const stale = await WsClient.open(gw.wsUrl);
    const refused = await stale
      .hello({ accessToken: shortLived, meetingId: m.meetingId, resumeSessionId: welcome.sessionId, resumeToken: welcome.resumeToken })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(refused).toBeInstanceOf(HelloError);
    expect((refused as HelloError).message).toMatch(/token_expired/);
    stale.close();

    const again = await WsClient.open(gw.wsUrl);
    try {
      const resumed = await again.hello({
        accessToken: await gw.tokenFor(m.studentId),
        meetingId: m.meetingId,
        resumeSessionId: welcome.sessionId,
        resumeToken: welcome.resumeToken,
      });
      expect([resumed.resumed, resumed.sessionId]).toEqual([true, welcome.sessionId]);
    } finally {
      again.close();
    }
  });
});
