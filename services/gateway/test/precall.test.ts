import { createHmac, randomUUID } from 'node:crypto';
import { type Harness, metricValue, setup } from '@lessoncall/kit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ApiResponse,
  type Backend,
  call,
  demoStudentId,
  demoTutorId,
  expectProblem,
  openApiChecker,
  startBackend,
  startTestGateway,
  type TestGateway,
  testSecret,
} from './helpers';

// The lobby's connection check asks for TURN credentials before Join: real NATS (with the
// permission matrix), the meeting service on Postgres, and the turn service behind the gateway.

const tutor = demoTutorId;
const student = demoStudentId;
const stranger = '33333333-3333-4333-8333-333333333333';
const turnSecret = testSecret();
const turnUrls = ['turn:127.0.0.1:3478?transport=udp', 'turn:127.0.0.1:3478?transport=tcp', 'turns:turn.example.com:5349?transport=tcp'];

let h: Harness;
let backend: Backend;
let gw: TestGateway;
let checker: ReturnType<typeof openApiChecker>;

/** Every answer is checked against the gateway's own OpenAPI document. */
async function api(method: string, path: string, options: Parameters<typeof call>[3] = {}, on: TestGateway = gw): Promise<ApiResponse> {
  const res = await call(on.url, method, path, options);
  checker.check(method, path, res);
  return res;
}

const minutes = (n: number) => new Date(Date.now() + n * 60_000).toISOString();

/** A lesson that starts in two hours: its join window (15 min before) is not open yet. */
async function laterMeeting(people = { tutorId: tutor, studentId: student }) {
  const body = { bookingId: `bk-${randomUUID()}`, ...people, scheduledStart: minutes(120), scheduledEnd: minutes(180) };
  const res = await api('POST', '/api/video/meetings', { token: await gw.serviceToken(), body });
  expect(res.status, res.text).toBe(201);
  return res.body as { meetingId: string; passcode: string };
}

const wrongOf = (passcode: string) => (passcode === '000000' ? '111111' : '000000');

async function precallIssued(): Promise<number> {
  return metricValue(await backend.turn!.runtime.metrics.text(), 'turn_credentials_issued_total', { purpose: 'precall' });
}

beforeAll(async () => {
  h = await setup({ postgres: true });
  [backend, gw] = await Promise.all([
    startBackend(h, { turn: { secret: turnSecret, urls: turnUrls } }),
    startTestGateway(h, { REST_RATE_PER_MINUTE: '100000', REST_RATE_SYNC_MS: '0', TRUSTED_PROXY_CIDRS: '127.0.0.1/32, ::1/128' }),
  ]);
  checker = openApiChecker((await call(gw.url, 'GET', '/api/video/openapi.json')).body);
});

afterAll(async () => {
  await gw?.stop();
  await backend?.stop();
  await h?.cleanup();
});

describe('POST /api/video/meetings/:meetingId/precall', () => {
  it('gives the tutor and the student TURN-only credentials that expire in minutes, before the join window opens', async () => {
    const m = await laterMeeting();
    const before = await precallIssued();
    for (const userId of [tutor, student]) {
      const res = await api('POST', `/api/video/meetings/${m.meetingId}/precall`, {
        token: await gw.tokenFor(userId),
        body: { passcode: m.passcode },
        headers: { 'x-forwarded-for': `10.7.0.${userId === tutor ? 1 : 2}` },
      });
      expect(res.status, res.text).toBe(200);
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(res.body.ttlSeconds).toBe(300);
      const expiresAt = Date.parse(res.body.expiresAt);
      expect(expiresAt - Date.now()).toBeGreaterThan(290_000);
      expect(expiresAt - Date.now()).toBeLessThanOrEqual(300_000);
      // One entry, every TURN URL (the client picks one per transport), no STUN.
      expect(res.body.iceServers).toHaveLength(1);
      const [server] = res.body.iceServers;
      expect(server.urls).toEqual(turnUrls);
      expect(server.username).toBe(`${Math.floor(expiresAt / 1000)}:${userId}`);
      expect(server.credential).toBe(createHmac('sha1', turnSecret).update(server.username).digest('base64'));
    }
    expect(await precallIssued()).toBe(before + 2);
  });

  it('needs a user of the meeting, its passcode (counted with the join’s lockout), and a meeting that is not over', async () => {
    const m = await laterMeeting();
    const path = `/api/video/meetings/${m.meetingId}/precall`;
    const token = await gw.tokenFor(student);
    const from = (n: number) => ({ 'x-forwarded-for': `10.8.0.${n}` });
    const before = await precallIssued();

    expectProblem(await api('POST', path, { body: { passcode: m.passcode }, headers: from(1) }), 401, 'unauthenticated');
    expectProblem(await api('POST', path, { token: await gw.serviceToken(), body: { passcode: m.passcode }, headers: from(1) }), 403, 'forbidden');
    const missing = await api('POST', path, { token, body: {}, headers: from(1) });
    expectProblem(missing, 400, 'invalid_request');
    expect(missing.body.field).toBe('passcode');
    expectProblem(await api('POST', path, { token: await gw.tokenFor(stranger), body: { passcode: m.passcode }, headers: from(2) }), 404, 'meeting_not_found');
    expectProblem(
      await api('POST', '/api/video/meetings/MID-NOPE/precall', { token, body: { passcode: m.passcode }, headers: from(2) }),
      404,
      'meeting_not_found',
    );

    const wrong = await api('POST', path, { token, body: { passcode: wrongOf(m.passcode) }, headers: from(3) });
    expectProblem(wrong, 403, 'passcode_invalid');
    expect(wrong.body.attemptsLeft).toBe(4);
    // The same counter as the lobby's meeting read and the join: no second way to guess.
    const read = await api('GET', `/api/video/meetings/${m.meetingId}`, {
      token,
      headers: { ...from(3), 'x-meeting-passcode': wrongOf(m.passcode) },
    });
    expectProblem(read, 403, 'passcode_invalid');
    expect(read.body.attemptsLeft).toBe(3);

    // Ended by its tutor: nothing left to test for.
    expect((await api('POST', `/api/video/meetings/${m.meetingId}/end`, { token: await gw.tokenFor(tutor), headers: from(4) })).status).toBe(200);
    expectProblem(await api('POST', path, { token, body: { passcode: m.passcode }, headers: from(4) }), 409, 'meeting_ended');
    // None of these got a credential.
    expect(await precallIssued()).toBe(before);
  });

  it('limits each user and each address per minute, across gateway replicas: 429 with Retry-After', async () => {
    const env = { PRECALL_RATE_PER_USER: '2', PRECALL_RATE_PER_ADDRESS: '3', REST_RATE_SYNC_MS: '0', TRUSTED_PROXY_CIDRS: '127.0.0.1/32, ::1/128' };
    const [a, b] = await Promise.all([startTestGateway(h, env), startTestGateway(h, env)]);
    try {
      // Rate-limit counts live in NATS KV for the minute, shared with the tests above: people and addresses of its own.
      const [tutor, student] = [randomUUID(), randomUUID()];
      const m = await laterMeeting({ tutorId: tutor, studentId: student });
      const path = `/api/video/meetings/${m.meetingId}/precall`;
      const school = `10.9.${Math.floor(Math.random() * 250)}.1`;
      const home = `10.10.${Math.floor(Math.random() * 250)}.1`;
      // Tokens signed for each replica: test gateways have secrets of their own.
      const ask = async (on: TestGateway, userId: string, address: string) =>
        api('POST', path, { token: await on.tokenFor(userId), body: { passcode: m.passcode }, headers: { 'x-forwarded-for': address } }, on);

      expect((await ask(a, tutor, school)).status).toBe(200);
      expect((await ask(b, tutor, home)).status).toBe(200);
      const userLimited = await ask(a, tutor, school);
      expectProblem(userLimited, 429, 'rate_limited');
      expect(userLimited.body.detail).toMatch(/from this user/);
      expect(Number(userLimited.headers.get('retry-after'))).toBeGreaterThan(0);

      // The student shares the school's address: its third check of the minute was the refused one above.
      expect((await ask(b, student, school)).status).toBe(200);
      const addressLimited = await ask(a, student, school);
      expectProblem(addressLimited, 429, 'rate_limited');
      expect(addressLimited.body.detail).toMatch(/from this address/);
      // From home the student still may.
      expect((await ask(b, student, home)).status).toBe(200);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  // Last: it stops the turn service.
  it('answers 503 with Retry-After when no turn service answers', async () => {
    const m = await laterMeeting();
    // backend.stop() stops it again at the end: stopping twice is harmless.
    await backend.turn!.stop();
    const res = await api('POST', `/api/video/meetings/${m.meetingId}/precall`, {
      token: await gw.tokenFor(tutor),
      body: { passcode: m.passcode },
      headers: { 'x-forwarded-for': '10.11.0.1' },
    });
    expectProblem(res, 503, 'unavailable');
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
  });
});
