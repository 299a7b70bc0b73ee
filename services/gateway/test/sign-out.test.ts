import { wsCloseCodes } from '@lessoncall/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, expectProblem, startTestGateway, startTwoGatewayStack, type TestGateway, type TestMeeting, type TwoGatewayStack } from './helpers';
import { HelloError, joinAs, WsClient } from './ws-client';

/** The seconds after which a token signed now has an `iat` past a sign-out made now (iat has whole seconds). */
const nextSecond = () => new Promise((r) => setTimeout(r, 1_100 - (Date.now() % 1_000)));

/**
 * Sign-out enforced by the gateway (issue 18, item 16): a signed-out access token is refused on
 * every gateway replica, REST and WebSocket, and the sockets opened with it close — not at `exp`.
 * Real gateways, participant and meeting services, NATS with the permission matrix, Postgres.
 */
describe('sign-out', () => {
  let s: TwoGatewayStack;
  beforeAll(async () => {
    s = await startTwoGatewayStack();
  });
  afterAll(() => s?.stop());

  /** The meeting as its tutor or student reads it: any authenticated route would do. */
  const read = (g: TestGateway, token: string, m: TestMeeting) =>
    call(g.url, 'GET', `/api/video/meetings/${m.meetingId}`, { token, headers: { 'x-meeting-passcode': m.passcode } });
  const signOut = async (token: string, body: unknown = {}) => {
    const res = await call(s.gw.url, 'POST', '/api/video/sign-out', { token, body });
    s.checker.check('POST', '/api/video/sign-out', res);
    return res;
  };

  it('refuses every token of the user on every gateway after a global sign-out, and closes their sockets there', async () => {
    const m = await s.backend.createMeeting();
    const laptop = await s.gw.tokenFor(m.studentId);
    const phone = await s.gw.tokenFor(m.studentId);
    const studentSocket = await joinAs(s.gw, m, 'student', { via: s.gw2 });
    const tutorSocket = await joinAs(s.gw, m, 'tutor', { via: s.gw2 });
    s.clients.push(studentSocket.c, tutorSocket.c);
    expect((await read(s.gw2, phone, m)).status).toBe(200);

    expect((await signOut(laptop)).status).toBe(204);

    // The other replica learns it through the bucket's watch: the phone's token too (same user, another sign-in).
    await expect.poll(async () => (await read(s.gw2, phone, m)).status, { timeout: 5_000 }).toBe(401);
    expectProblem(await read(s.gw2, phone, m), 401, 'token_revoked');
    expectProblem(await read(s.gw, laptop, m), 401, 'token_revoked');
    expect((await read(s.gw, laptop, m)).headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
    // Their socket on the other gateway is told and closed; the tutor's stays (a ping proves it).
    expect((await studentSocket.c.error('token_revoked')).code).toBe('token_revoked');
    expect((await studentSocket.c.closed).code).toBe(wsCloseCodes.tokenExpired);
    tutorSocket.c.send({ requestId: 'still-here', kind: { case: 'ping', value: {} } });
    expect((await tutorSocket.c.next('pong')).requestId).toBe('still-here');

    // Saying hello with it again is refused.
    const again = await WsClient.open(s.gw2.wsUrl);
    s.clients.push(again);
    const refused = await again.hello({ accessToken: phone, meetingId: m.meetingId, passcode: m.passcode }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(HelloError);
    expect((refused as HelloError).code).toBe('token_revoked');

    // Signing in again afterwards works.
    await nextSecond();
    expect((await read(s.gw2, await s.gw.tokenFor(m.studentId), m)).status).toBe(200);
  });

  it('refuses only that sign-in after a local sign-out', async () => {
    const m = await s.backend.createMeeting();
    const here = await s.gw.tokenFor(m.tutorId);
    const elsewhere = await s.gw.tokenFor(m.tutorId);
    expect((await signOut(here, { scope: 'local' })).status).toBe(204);
    expectProblem(await read(s.gw, here, m), 401, 'token_revoked');
    await expect.poll(async () => (await read(s.gw2, here, m)).status, { timeout: 5_000 }).toBe(401);
    // A sentinel for the watch: once `here` is refused on s.gw2, `elsewhere` would be too if it were covered.
    expect((await read(s.gw2, elsewhere, m)).status).toBe(200);
    expect((await read(s.gw, elsewhere, m)).status).toBe(200);
  });

  it('is remembered by a gateway that starts after it', async () => {
    const m = await s.backend.createMeeting();
    const token = await s.gw.tokenFor(m.studentId);
    expect((await signOut(token)).status).toBe(204);
    const late = await startTestGateway(s.h, { JWT_SECRET: s.gw.config.JWT_SECRET, GATEWAY_ID: 'gw-late' });
    try {
      expectProblem(await read(late, token, m), 401, 'token_revoked');
    } finally {
      await late.stop();
    }
  });

  it('answers bad input with a problem and records nothing', async () => {
    const m = await s.backend.createMeeting();
    const token = await s.gw.tokenFor(m.tutorId);
    const bad = await signOut(token, { scope: 'everywhere' });
    expectProblem(bad, 400, 'invalid_request');
    expect(bad.body.field).toBe('scope');
    expectProblem(await signOut(token, { scope: 'global', extra: 1 }), 400, 'invalid_request');
    expectProblem(await call(s.gw.url, 'POST', '/api/video/sign-out', { body: {} }), 401, 'unauthenticated');
    expectProblem(await signOut(await s.gw.serviceToken()), 403, 'forbidden');
    // None of those signed the tutor out.
    expect((await read(s.gw, token, m)).status).toBe(200);
  });
});
