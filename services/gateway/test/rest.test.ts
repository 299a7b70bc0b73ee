import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, createRuntime, type Runtime, servePartial } from '@lessoncall/kit';
import { type Harness, setup } from '@lessoncall/kit/testing';
import { MeetingService, rpcQueue, rpcSubject } from '@lessoncall/proto';
import { Validator } from '@seriousme/openapi-schema-validator';
import type { Express } from 'express';
import { bookAndWait } from '@lessoncall/booking-system';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenVerifier } from '../src/auth/index';
import { type Revocations, startRevocations } from '../src/auth/revocations';
import { loadGatewayConfig } from '../src/config';
import { createRestApp, openApiPath } from '../src/rest/index';
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
} from './helpers';

const tutor = demoTutorId;
const student = demoStudentId;
const stranger = '33333333-3333-4333-8333-333333333333';
const webOrigin = 'http://web.test:5173';

let h: Harness;
let backend: Backend;
let gw: TestGateway;
let webDir: string;
let checker: ReturnType<typeof openApiChecker>;

/** Every answer in this file is checked against the gateway's own OpenAPI document. */
async function api(method: string, path: string, options: Parameters<typeof call>[3] = {}): Promise<ApiResponse> {
  const res = await call(gw.url, method, path, options);
  checker.check(method, path, res);
  return res;
}

const minutes = (n: number) => new Date(Date.now() + n * 60_000).toISOString();

async function newMeeting(overrides: Record<string, unknown> = {}) {
  const body = { bookingId: `bk-${randomUUID()}`, tutorId: tutor, studentId: student, scheduledStart: minutes(5), scheduledEnd: minutes(65), ...overrides };
  const res = await api('POST', '/api/video/meetings', { token: await gw.serviceToken(), body });
  expect(res.status, res.text).toBe(201);
  return { ...(res.body as { meetingId: string; passcode: string; url: string }), bookingId: body.bookingId as string };
}

beforeAll(async () => {
  h = await setup({ postgres: true });
  webDir = await mkdtemp(join(tmpdir(), 'lessoncall-web-'));
  await mkdir(join(webDir, 'assets'));
  await writeFile(join(webDir, 'index.html'), '<!doctype html><title>lessoncall</title><div id="root"></div>');
  await writeFile(join(webDir, 'assets', 'app-1234.js'), 'console.log("app")');
  [backend, gw] = await Promise.all([
    startBackend(h),
    startTestGateway(h, {
      WEB_ORIGIN: webOrigin,
      WEB_DIST_DIR: webDir,
      SUPABASE_URL: 'https://project.supabase.co',
      REST_RATE_PER_MINUTE: '100000',
      REST_BODY_LIMIT_BYTES: '2048',
    }),
  ]);
  const doc = await call(gw.url, 'GET', '/api/video/openapi.json');
  checker = openApiChecker(doc.body);
});

afterAll(async () => {
  await gw?.stop();
  await backend?.stop();
  await h?.cleanup();
  if (webDir) await rm(webDir, { recursive: true, force: true });
});

describe('POST /api/video/meetings', () => {
  it('creates a meeting for the booking system (201), and answers the same on replay (200)', async () => {
    const body = {
      bookingId: `bk-${randomUUID()}`,
      tutorId: tutor,
      studentId: student,
      scheduledStart: minutes(5),
      scheduledEnd: minutes(65),
      title: 'Algebra',
    };
    const token = await gw.serviceToken();
    const first = await api('POST', '/api/video/meetings', { token, body });
    expect(first.status).toBe(201);
    expect(first.body.meetingId).toMatch(/^MID-[A-Z0-9]{16}$/);
    expect(first.body.passcode).toMatch(/^\d{6}$/);
    expect(first.body.url).toContain(first.body.meetingId);
    expect(first.body.meeting.bookingId).toBe(body.bookingId);
    expect(first.headers.get('location')).toBe(`/api/video/meetings/${first.body.meetingId}`);
    const again = await api('POST', '/api/video/meetings', { token, body });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ meetingId: first.body.meetingId, passcode: first.body.passcode, url: first.body.url, created: false });
  });

  it("lets the booking's tutor create it, not the student or anyone else", async () => {
    const body = { bookingId: `bk-${randomUUID()}`, tutorId: tutor, studentId: student, scheduledStart: minutes(5), scheduledEnd: minutes(65) };
    expectProblem(await api('POST', '/api/video/meetings', { token: await gw.tokenFor(student), body }), 403, 'forbidden');
    expectProblem(await api('POST', '/api/video/meetings', { token: await gw.tokenFor(stranger), body }), 403, 'forbidden');
    const res = await api('POST', '/api/video/meetings', { token: await gw.tokenFor(tutor), body });
    expect(res.status).toBe(201);
  });

  it("a user's meeting cannot take a booking id from the booking system", async () => {
    // The reproduction: the tutor creates a meeting for a booking the booking system has not confirmed yet…
    const bookingId = `bk-${randomUUID()}`;
    const body = { bookingId, tutorId: tutor, studentId: student, scheduledStart: minutes(5), scheduledEnd: minutes(65) };
    const own = await api('POST', '/api/video/meetings', { token: await gw.tokenFor(tutor), body });
    expect(own.status).toBe(201);
    expect(own.body.meeting.bookingId).not.toBe(bookingId);
    // …then the booking system confirms it, and its meeting exists all the same.
    const booked = await bookAndWait(
      h.nc,
      h.js,
      { bookingId, tutorId: tutor, studentId: student, scheduledStart: new Date(minutes(5)), scheduledEnd: new Date(minutes(65)) },
      10_000,
    );
    expect(booked.meetingId).not.toBe(own.body.meetingId);
    // The real tutor's lookup by booking id finds the booking system's meeting.
    const found = await api('GET', `/api/video/meetings?bookingId=${encodeURIComponent(bookingId)}`, { token: await gw.tokenFor(tutor) });
    expect(found.status).toBe(200);
    expect(found.body.meeting.meetingId).toBe(booked.meetingId);
  });

  it('rejects bad bodies naming the field, and a booking replayed for other people (409)', async () => {
    const token = await gw.serviceToken();
    const good = { bookingId: `bk-${randomUUID()}`, tutorId: tutor, studentId: student, scheduledStart: minutes(5), scheduledEnd: minutes(65) };
    const missing = await api('POST', '/api/video/meetings', { token, body: { ...good, tutorId: undefined } });
    expectProblem(missing, 400, 'invalid_request');
    expect(missing.body.field).toBe('tutorId');
    const notUuid = await api('POST', '/api/video/meetings', { token, body: { ...good, studentId: 'bob' } });
    expect(notUuid.body.field).toBe('studentId');
    const extra = await api('POST', '/api/video/meetings', { token, body: { ...good, userId: tutor } });
    expectProblem(extra, 400, 'invalid_request');
    expect(extra.body.field).toBe('userId');
    const backwards = await api('POST', '/api/video/meetings', { token, body: { ...good, scheduledEnd: minutes(1) } });
    expect(backwards.body.field).toBe('scheduledEnd');
    expect((await api('POST', '/api/video/meetings', { token, body: good })).status).toBe(201);
    expectProblem(await api('POST', '/api/video/meetings', { token, body: { ...good, studentId: stranger } }), 409, 'conflict');
  });
});

describe('GET /api/video/meetings?bookingId=', () => {
  it("answers the booking system and the booking's people; to anyone else it does not exist", async () => {
    const m = await newMeeting();
    const path = `/api/video/meetings?bookingId=${encodeURIComponent(m.bookingId)}`;
    const bySystem = await api('GET', path, { token: await gw.serviceToken() });
    expect(bySystem.status).toBe(200);
    expect(bySystem.body.meeting.meetingId).toBe(m.meetingId);
    expect(bySystem.body.meeting).not.toHaveProperty('passcode');
    expect((await api('GET', path, { token: await gw.tokenFor(student) })).body.meeting.meetingId).toBe(m.meetingId);
    expectProblem(await api('GET', path, { token: await gw.tokenFor(stranger) }), 404, 'meeting_not_found');
    const noBooking = await api('GET', '/api/video/meetings', { token: await gw.serviceToken() });
    expectProblem(noBooking, 400, 'invalid_request');
    expect(noBooking.body.field).toBe('bookingId');
  });
});

describe('GET /api/video/meetings/:meetingId', () => {
  it('answers details and participants with the passcode in the header or the query', async () => {
    const m = await newMeeting();
    const token = await gw.tokenFor(tutor);
    const byHeader = await api('GET', `/api/video/meetings/${m.meetingId}`, { token, headers: { 'x-meeting-passcode': m.passcode } });
    expect(byHeader.status).toBe(200);
    expect(byHeader.body.meeting).toMatchObject({ meetingId: m.meetingId, tutorId: tutor, studentId: student, status: 'pending' });
    expect(byHeader.body.participants).toEqual([]);
    const byQuery = await api('GET', `/api/video/meetings/${m.meetingId}?passcode=${m.passcode}`, { token: await gw.tokenFor(student) });
    expect(byQuery.status).toBe(200);
  });

  it('needs the passcode, the right one, a participant, and a user', async () => {
    const m = await newMeeting();
    const path = `/api/video/meetings/${m.meetingId}`;
    const none = await api('GET', path, { token: await gw.tokenFor(tutor) });
    expectProblem(none, 400, 'invalid_request');
    expect(none.body.field).toBe('passcode');
    const wrongCode = { 'x-meeting-passcode': m.passcode === '000000' ? '111111' : '000000' };
    const wrong = await api('GET', path, { token: await gw.tokenFor(tutor), headers: wrongCode });
    expectProblem(wrong, 403, 'passcode_invalid');
    // A fresh meeting, PASSCODE_MAX_FAILURES 5: the count goes down by one per failure.
    expect(wrong.body.attemptsLeft).toBe(4);
    const again = await api('GET', path, { token: await gw.tokenFor(tutor), headers: wrongCode });
    expectProblem(again, 403, 'passcode_invalid');
    expect(again.body.attemptsLeft).toBe(3);
    expectProblem(await api('GET', path, { token: await gw.tokenFor(stranger), headers: { 'x-meeting-passcode': m.passcode } }), 404, 'meeting_not_found');
    expectProblem(await api('GET', path, { token: await gw.serviceToken(), headers: { 'x-meeting-passcode': m.passcode } }), 403, 'forbidden');
    expectProblem(
      await api('GET', '/api/video/meetings/MID-NOPE', { token: await gw.tokenFor(tutor), headers: { 'x-meeting-passcode': '123456' } }),
      404,
      'meeting_not_found',
    );
  });

  it('locks passcode entry after repeated failures: 423 with Retry-After, even for the right passcode', async () => {
    const m = await newMeeting();
    const path = `/api/video/meetings/${m.meetingId}`;
    const token = await gw.tokenFor(student);
    const wrongCode = m.passcode === '999999' ? '888888' : '999999';
    let last: ApiResponse | undefined;
    for (let i = 0; i < 10; i++) {
      last = await api('GET', path, { token, headers: { 'x-meeting-passcode': wrongCode } });
      if (last.status !== 403) break;
    }
    expectProblem(last!, 423, 'passcode_locked');
    expect(Number(last!.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(last!.body.retryAfterSeconds).toBeGreaterThan(0);
    const right = await api('GET', path, { token, headers: { 'x-meeting-passcode': m.passcode } });
    expectProblem(right, 423, 'passcode_locked');
    expect(Number(right.headers.get('retry-after'))).toBeGreaterThan(0);
    // Joining is locked as well.
    expectProblem(await api('POST', `${path}/join`, { token, body: { passcode: m.passcode } }), 423, 'passcode_locked');
  });
});

describe('join, participants, mute, leave, end, attendance', () => {
  it('runs a lesson through the REST API', async () => {
    const m = await newMeeting();
    const base = `/api/video/meetings/${m.meetingId}`;
    const tutorToken = await gw.tokenFor(tutor, { displayName: 'Demo Tutor' });
    const studentToken = await gw.tokenFor(student);

    const t = await api('POST', `${base}/join`, { token: tutorToken, body: { passcode: m.passcode, userType: 'tutor' } });
    expect(t.status, t.text).toBe(200);
    expect(t.body).toMatchObject({ userType: 'tutor', resumed: false });
    expect(t.body.sessionId).toMatch(/^[A-Za-z0-9_-]{8,64}$/);
    expect(t.body.resumeToken).not.toBe('');
    expect(t.body.iceServers[0].urls[0]).toMatch(/^turn:/);
    // Under the seed guide's name too, and documented so (api() checks the OpenAPI schema).
    expect(t.body.turn_servers).toEqual(t.body.iceServers);
    expect(t.body.participants.map((p: { userId: string }) => p.userId)).toEqual([tutor]);
    expect(t.body.participants[0].displayName).toBe('Demo Tutor');

    // The role in the body must be the one the meeting gives: nothing is created otherwise.
    const claimed = await api('POST', `${base}/join`, { token: studentToken, body: { passcode: m.passcode, userType: 'tutor' } });
    expectProblem(claimed, 403, 'forbidden');
    expect(claimed.body.field).toBe('userType');
    const afterClaim = await api('GET', `${base}/participants`, { token: tutorToken });
    expect(afterClaim.body.participants).toHaveLength(1);

    const s = await api('POST', `${base}/join`, { token: studentToken, body: { passcode: m.passcode, displayName: 'Sam', audioMuted: true } });
    expect(s.status, s.text).toBe(200);
    expect(s.body.userType).toBe('student');
    expect(s.body.participants).toHaveLength(2);

    const listed = await api('GET', `${base}/participants`, { token: tutorToken });
    expect(listed.status).toBe(200);
    const sam = listed.body.participants.find((p: { userId: string }) => p.userId === student);
    expect(sam).toMatchObject({ displayName: 'Sam', isMuted: true, cameraOff: false, connected: true });

    const details = await api('GET', base, { token: studentToken, headers: { 'x-meeting-passcode': m.passcode } });
    expect(details.body.participants).toHaveLength(2);

    // Own state.
    const unmuted = await api('POST', `${base}/mute`, { token: studentToken, body: { sessionId: s.body.sessionId, isMuted: false } });
    expect(unmuted.status, unmuted.text).toBe(200);
    expect(unmuted.body.participant).toMatchObject({ sessionId: s.body.sessionId, isMuted: false });
    const cameraOff = await api('POST', `${base}/mute`, { token: studentToken, body: { sessionId: s.body.sessionId, isMuted: true, kind: 'video' } });
    expect(cameraOff.body.participant).toMatchObject({ cameraOff: true, isMuted: false });
    // Host control: the tutor mutes the student; the student cannot mute the tutor.
    const hostMuted = await api('POST', `${base}/mute`, { token: tutorToken, body: { userId: student, isMuted: true } });
    expect(hostMuted.status, hostMuted.text).toBe(200);
    expect(hostMuted.body.participant).toMatchObject({ userId: student, isMuted: true });
    expectProblem(await api('POST', `${base}/mute`, { token: studentToken, body: { userId: tutor, isMuted: true } }), 403, 'forbidden');
    const noState = await api('POST', `${base}/mute`, { token: studentToken, body: { sessionId: s.body.sessionId } });
    expect(noState.body.field).toBe('isMuted');

    // Resume the student's session.
    const resumed = await api('POST', `${base}/join`, {
      token: studentToken,
      body: { passcode: m.passcode, sessionId: s.body.sessionId, resumeToken: s.body.resumeToken },
    });
    expect(resumed.status, resumed.text).toBe(200);
    expect(resumed.body).toMatchObject({ sessionId: s.body.sessionId, resumed: true });

    // Leave: one's own session only; twice is fine.
    expectProblem(await api('POST', `${base}/leave`, { token: tutorToken, body: { sessionId: s.body.sessionId } }), 404, 'session_not_found');
    const left = await api('POST', `${base}/leave`, { token: studentToken, body: { sessionId: s.body.sessionId } });
    expect(left.status).toBe(200);
    expect(left.body.participant).toMatchObject({ sessionId: s.body.sessionId, leftReason: 'left' });
    expect(left.body.participant.leftAt).toBeTruthy();
    expect((await api('POST', `${base}/leave`, { token: studentToken, body: { sessionId: s.body.sessionId } })).status).toBe(200);
    const missingSession = await api('POST', `${base}/leave`, { token: studentToken, body: {} });
    expect(missingSession.body.field).toBe('sessionId');

    // End: the tutor only.
    expectProblem(await api('POST', `${base}/end`, { token: studentToken }), 403, 'forbidden');
    const ended = await api('POST', `${base}/end`, { token: tutorToken });
    expect(ended.status, ended.text).toBe(200);
    expect(ended.body.meeting.status).toBe('completed');
    expectProblem(await api('POST', `${base}/join`, { token: studentToken, body: { passcode: m.passcode } }), 409, 'meeting_ended');

    // Attendance, for the booking system and the meeting's people.
    const attendance = await api('GET', `${base}/attendance`, { token: await gw.serviceToken() });
    expect(attendance.status, attendance.text).toBe(200);
    expect(attendance.body.attendance.meetingId).toBe(m.meetingId);
    expect(attendance.body.attendance.entries.map((e: { userId: string }) => e.userId).sort()).toEqual([tutor, student].sort());
    expect((await api('GET', `${base}/attendance`, { token: tutorToken })).status).toBe(200);
    expect((await api('GET', `${base}/attendance`, { token: await gw.tokenFor(stranger) })).status).toBeGreaterThanOrEqual(403);
  });

  it('a join retried with its Idempotency-Key is the same session; a key that is not one is a 400 and nothing is made', async () => {
    const m = await newMeeting();
    const base = `/api/video/meetings/${m.meetingId}`;
    const tutorToken = await gw.tokenFor(tutor);
    const key = randomUUID();
    const join = () => api('POST', `${base}/join`, { token: tutorToken, headers: { 'idempotency-key': key }, body: { passcode: m.passcode } });
    const first = await join();
    expect(first.status, first.text).toBe(200);
    const again = await join();
    expect(again.status, again.text).toBe(200);
    expect(again.body).toMatchObject({ sessionId: first.body.sessionId, resumeToken: first.body.resumeToken, resumed: false });
    const bad = await api('POST', `${base}/join`, { token: tutorToken, headers: { 'idempotency-key': 'two words' }, body: { passcode: m.passcode } });
    expectProblem(bad, 400, 'invalid_request');
    expect(bad.body.field).toBe('Idempotency-Key');
    const listed = await api('GET', `${base}/participants`, { token: tutorToken });
    expect(listed.body.participants.map((p: { sessionId: string }) => p.sessionId)).toEqual([first.body.sessionId]);
    // Without a key every join is a session of its own (another tab).
    const tab = await api('POST', `${base}/join`, { token: tutorToken, body: { passcode: m.passcode } });
    expect(tab.body.sessionId).not.toBe(first.body.sessionId);
  });

  it('refuses strangers, wrong passcodes, and lessons that have not opened yet', async () => {
    const m = await newMeeting();
    const base = `/api/video/meetings/${m.meetingId}`;
    expectProblem(await api('POST', `${base}/join`, { token: await gw.tokenFor(stranger), body: { passcode: m.passcode } }), 403, 'not_a_participant');
    const wrong = await api('POST', `${base}/join`, { token: await gw.tokenFor(student), body: { passcode: m.passcode === '000000' ? '111111' : '000000' } });
    expectProblem(wrong, 403, 'passcode_invalid');
    const noPasscode = await api('POST', `${base}/join`, { token: await gw.tokenFor(student), body: {} });
    expect(noPasscode.body.field).toBe('passcode');
    expectProblem(await api('POST', `${base}/join`, { token: await gw.serviceToken(), body: { passcode: m.passcode } }), 403, 'forbidden');

    const later = await newMeeting({ scheduledStart: minutes(120), scheduledEnd: minutes(180) });
    const early = await api('POST', `/api/video/meetings/${later.meetingId}/join`, { token: await gw.tokenFor(student), body: { passcode: later.passcode } });
    expectProblem(early, 409, 'meeting_not_started');
    expect(Number(early.headers.get('retry-after'))).toBeGreaterThan(60 * 60);
  });
});

describe('errors, limits and headers', () => {
  it('answers unknown routes, malformed JSON, wrong content types and oversize bodies with problems', async () => {
    const token = await gw.tokenFor(tutor);
    const unknown = await call(gw.url, 'GET', '/api/video/nothing-here', { token });
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(unknown.body).toMatchObject({ status: 404, instance: '/api/video/nothing-here' });
    const wrongMethod = await call(gw.url, 'DELETE', '/api/video/meetings', { token });
    expect(wrongMethod.status).toBe(404);

    const malformed = await api('POST', '/api/video/meetings/MID-AAAAAAAAAAAAAAAA/join', { token, body: '{"passcode": "12' });
    expectProblem(malformed, 400, 'invalid_request');
    expect(malformed.body.field).toBe('body');
    const textBody = await api('POST', '/api/video/meetings/MID-AAAAAAAAAAAAAAAA/join', {
      token,
      body: 'passcode=1',
      headers: { 'content-type': 'text/plain' },
    });
    expectProblem(textBody, 400, 'invalid_request');
    expect(textBody.body.field).toBe('content-type');
    const huge = await api('POST', '/api/video/meetings/MID-AAAAAAAAAAAAAAAA/join', { token, body: { passcode: '1', displayName: 'x'.repeat(4096) } });
    expectProblem(huge, 413, 'message_too_large');
  });

  it('answers headers too large for the HTTP parser (a huge token) with a counted problem, not a bare 431', async () => {
    // Found by the drills' hostile input: Node refused these before express, with no body and no code.
    const res = await fetch(`${gw.url}/api/video/meetings/MID-AAAAAAAAAAAAAAAA`, { headers: { authorization: `Bearer ${'a'.repeat(20_000)}` } });
    expect(res.status).toBe(431);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(await res.json()).toMatchObject({ status: 431, code: 'message_too_large' });
    const metrics = await (await fetch(gw.metricsUrl)).text();
    expect(metrics).toMatch(/gateway_http_unparsed_requests_total\{[^}]*reason="header_too_large"[^}]*\} [1-9]/);
    // The server is still there for the next, sane request.
    expect((await fetch(`${gw.url}/healthz`)).status).toBe(200);
  });

  it('sets security headers, request ids and trace ids on every answer', async () => {
    const res = await call(gw.url, 'GET', '/api/video/openapi.json', { headers: { 'x-request-id': 'req-abc.123' } });
    expect(res.headers.get('x-request-id')).toBe('req-abc.123');
    expect(res.headers.get('x-trace-id')).toMatch(/^[0-9a-f]{32}$/);
    expect(res.headers.get('traceresponse')).toMatch(new RegExp(`^00-${res.headers.get('x-trace-id')}-[0-9a-f]{16}-0[01]$`));
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('x-powered-by')).toBeNull();
    const bad = await call(gw.url, 'GET', '/nope', { headers: { 'x-request-id': 'bad id with spaces' } });
    expect(bad.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const traced = await call(gw.url, 'GET', '/healthz', { headers: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' } });
    expect(traced.headers.get('x-trace-id')).toBe('0af7651916cd43dd8448eb211c80319c');
  });

  it('allows CORS for the web origin only', async () => {
    const preflight = await fetch(`${gw.url}/api/video/meetings/MID-AAAAAAAAAAAAAAAA/join`, {
      method: 'OPTIONS',
      headers: { origin: webOrigin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe(webOrigin);
    expect(preflight.headers.get('access-control-allow-headers')).toMatch(/Authorization/);
    expect(preflight.headers.get('access-control-allow-credentials')).toBeNull();
    const evil = await fetch(`${gw.url}/api/video/meetings/MID-AAAAAAAAAAAAAAAA/join`, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
    });
    expect(evil.status).toBe(403);
    expect(evil.headers.get('access-control-allow-origin')).toBeNull();
    const simple = await call(gw.url, 'GET', '/api/video/openapi.json', { headers: { origin: webOrigin } });
    expect(simple.headers.get('access-control-allow-origin')).toBe(webOrigin);
    expect(simple.headers.get('access-control-expose-headers')).toMatch(/Retry-After/);
    const other = await call(gw.url, 'GET', '/api/video/openapi.json', { headers: { origin: 'https://evil.example' } });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('serves probes and RED metrics per route', async () => {
    expect((await api('GET', '/healthz')).body).toEqual({ status: 'ok' });
    const ready = await api('GET', '/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body.checks.nats).toBe('ok');
    const metrics = { text: await (await fetch(gw.metricsUrl)).text() };
    expect(metrics.text).toMatch(/gateway_http_request_duration_seconds_count\{[^}]*route="\/api\/video\/meetings\/:meetingId\/join"[^}]*\} \d+/);
    expect(metrics.text).toMatch(/gateway_http_request_duration_seconds_count\{[^}]*status="404"/);
    expect(metrics.text).not.toMatch(/MID-[A-Z0-9]{16}/);
  });
});

describe('dev issuer', () => {
  const devSecret = 'd'.repeat(40);
  const devEnv = { DEV_ISSUER_ENABLED: 'true', DEV_ISSUER_SECRET: devSecret };

  it('signs tokens for the two demo users only, with its own secret, that the gateway accepts', async () => {
    const dev = await startTestGateway(h, devEnv);
    try {
      const devApi = (method: string, path: string, opts: { token?: string; body?: unknown } = {}) => call(dev.url, method, path, opts);
      const config = await devApi('GET', '/api/dev/config');
      expect(config.body).toEqual({
        devIssuer: true,
        demoUsers: [
          { userId: tutor, displayName: 'Demo Tutor', userType: 'tutor' },
          { userId: student, displayName: 'Demo Student', userType: 'student' },
        ],
      });
      const m = await newMeeting();
      const asTutor = await devApi('POST', '/api/dev/token', { body: { as: 'tutor' } });
      expect(asTutor.status).toBe(200);
      expect(asTutor.body).toMatchObject({ userId: tutor, displayName: 'Demo Tutor' });
      expect(new Date(asTutor.body.expiresAt).getTime()).toBeGreaterThan(Date.now());
      const joined = await devApi('POST', `/api/video/meetings/${m.meetingId}/join`, { token: asTutor.body.accessToken, body: { passcode: m.passcode } });
      expect(joined.status).toBe(200);
      expect(joined.body.participants[0].displayName).toBe('Demo Tutor');
      // Any other user id is refused: it is not an issuer for real users.
      expectProblem(await devApi('POST', '/api/dev/token', { body: { userId: stranger } }), 400, 'invalid_request');
      expectProblem(await devApi('POST', '/api/dev/token', { body: { as: 'admin' } }), 400, 'invalid_request');

      // Its secret is not the project's: a token for anyone else signed with it (as a leak would allow) is refused.
      const { SignJWT } = await import('jose');
      const now = Math.floor(Date.now() / 1000);
      const forged = await new SignJWT({ role: 'authenticated' })
        .setProtectedHeader({ alg: 'HS256', kid: 'lessoncall-dev-issuer' })
        .setSubject(stranger)
        .setIssuer(dev.config.JWT_ISSUER)
        .setAudience('authenticated')
        .setIssuedAt(now)
        .setExpirationTime(now + 60)
        .sign(new TextEncoder().encode(devSecret));
      expectProblem(await devApi('GET', `/api/video/meetings/${m.meetingId}/participants`, { token: forged }), 401, 'unauthenticated');
      // And a gateway without the dev issuer does not take its tokens at all.
      expectProblem(await api('GET', `/api/video/meetings/${m.meetingId}/participants`, { token: asTutor.body.accessToken }), 401, 'unauthenticated');
    } finally {
      await dev.stop();
    }
  });

  it('refuses to start unless the issuer is local and no real project is configured', () => {
    const base = { ...h.natsEnv('gateway'), JWT_SECRET: 'j'.repeat(32), JWT_ISSUER: 'http://localhost:8080/auth/v1', ...devEnv };
    expect(() => loadGatewayConfig(base)).not.toThrow();
    expect(() => loadGatewayConfig({ ...base, DEV_ISSUER_SECRET: undefined })).toThrow(/needs DEV_ISSUER_SECRET/);
    expect(() => loadGatewayConfig({ ...base, DEV_ISSUER_SECRET: 'j'.repeat(32) })).toThrow(/must not be the project's JWT_SECRET/);
    expect(() => loadGatewayConfig({ ...base, JWT_ISSUER: 'https://abc.supabase.co/auth/v1' })).toThrow(/local issuer only/);
    expect(() => loadGatewayConfig({ ...base, SUPABASE_URL: 'https://abc.supabase.co' })).toThrow(/SUPABASE_URL/);
    expect(() => loadGatewayConfig({ ...base, JWT_JWKS_URL: 'https://abc.supabase.co/auth/v1/.well-known/jwks.json' })).toThrow(/JWT_JWKS_URL/);
  });

  it('does not exist unless DEV_ISSUER_ENABLED is set', async () => {
    const plain = await startTestGateway(h);
    try {
      expect((await call(plain.url, 'POST', '/api/dev/token', { body: { as: 'tutor' } })).status).toBe(404);
      expect((await call(plain.url, 'GET', '/api/dev/config')).status).toBe(404);
      const doc = await call(plain.url, 'GET', '/api/video/openapi.json');
      expect(Object.keys(doc.body.paths)).not.toContain('/api/dev/token');
    } finally {
      await plain.stop();
    }
  });
});

describe('the web app', () => {
  it('serves files, falls back to index.html for client routes, with a strict CSP', async () => {
    const index = await fetch(`${gw.url}/`, { headers: { accept: 'text/html' } });
    expect(index.status).toBe(200);
    expect(await index.text()).toContain('<div id="root">');
    const csp = index.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'self'");
    // The gateway's own origin and its WebSocket only, never any ws:/wss: host.
    expect(csp).toContain("connect-src 'self' ws://web.test:5173 https://project.supabase.co;");
    expect(csp).not.toMatch(/\s(ws|wss):(\s|;|$)/);
    expect(csp).toContain("media-src 'self' blob:");
    expect(csp).toContain("frame-ancestors 'none'");
    const route = await fetch(`${gw.url}/meet/MID-AAAAAAAAAAAAAAAA?pwd=123456`, { headers: { accept: 'text/html' } });
    expect(route.status).toBe(200);
    expect(await route.text()).toContain('<div id="root">');
    const asset = await fetch(`${gw.url}/assets/app-1234.js`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get('cache-control')).toContain('immutable');
    const apiMiss = await call(gw.url, 'GET', '/api/video/unknown');
    expect(apiMiss.status).toBe(404);
    expect(apiMiss.headers.get('content-type')).toMatch(/problem\+json/);
  });
});

describe('when services do not answer, and rate limits', () => {
  let bare: Harness;
  beforeAll(async () => {
    bare = await setup();
  });
  afterAll(() => bare?.cleanup());

  it('answers 503 with Retry-After when nobody serves the subject, and when the service does not answer in time', async () => {
    const lone = await startTestGateway(bare, { REQUEST_TIMEOUT_MS: '300' });
    try {
      const token = await lone.tokenFor(tutor);
      const path = '/api/video/meetings/MID-AAAAAAAAAAAAAAAA';
      const nobody = await call(lone.url, 'GET', path, { token, headers: { 'x-meeting-passcode': '123456' } });
      expectProblem(nobody, 503, 'unavailable');
      expect(Number(nobody.headers.get('retry-after'))).toBeGreaterThan(0);

      // A responder that never answers: the gateway gives up at REQUEST_TIMEOUT_MS, it does not hang.
      const silent = bare.nc.subscribe(rpcSubject(MeetingService.method.getMeeting), { queue: rpcQueue(MeetingService), callback: () => {} });
      await bare.nc.flush();
      const started = Date.now();
      const slow = await call(lone.url, 'GET', path, { token, headers: { 'x-meeting-passcode': '123456' } });
      expectProblem(slow, 503, 'unavailable');
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(Number(slow.headers.get('retry-after'))).toBeGreaterThan(0);
      silent.unsubscribe();
      await bare.nc.flush();

      // An unexpected failure inside a service is a 500 without its details.
      const stand = await servePartial(
        bare.nc,
        MeetingService,
        {
          getMeeting: async () => {
            throw new Error('secret connection string postgres://u:p@db');
          },
        },
        { logger: createLogger('test', { level: 'silent' }) },
      );
      await bare.nc.flush();
      const boom = await call(lone.url, 'GET', path, { token, headers: { 'x-meeting-passcode': '123456' } });
      expectProblem(boom, 500, 'internal');
      expect(boom.text).not.toContain('secret');
      await stand.stop();
    } finally {
      await lone.stop();
    }
  });

  it('limits each client across gateway replicas (shared in NATS KV): 429 with Retry-After', async () => {
    const env = { REST_RATE_PER_MINUTE: '5', REST_RATE_SYNC_MS: '0', TRUSTED_PROXY_CIDRS: '127.0.0.1/32' };
    const [a, b] = await Promise.all([startTestGateway(bare, env), startTestGateway(bare, env)]);
    try {
      const client = { 'x-forwarded-for': `10.1.2.${Math.floor(Math.random() * 250)}` };
      const statuses: number[] = [];
      for (let i = 0; i < 8; i++) {
        const res = await call(i % 2 ? a.url : b.url, 'GET', '/api/video/openapi.json', { headers: client });
        statuses.push(res.status);
        if (res.status === 429) {
          expectProblem(res, 429, 'rate_limited');
          expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
        }
      }
      expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429, 429]);
      // Another client is not affected; probes are never limited.
      expect((await call(a.url, 'GET', '/api/video/openapi.json', { headers: { 'x-forwarded-for': '10.9.9.9' } })).status).toBe(200);
      expect((await call(a.url, 'GET', '/healthz', { headers: client })).status).toBe(200);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });
});

describe('when NATS is gone', () => {
  it('keeps answering: services are 503, readiness fails, the rate limit counts locally', async () => {
    const lonely = await setup();
    const g = await startTestGateway(lonely, { REST_RATE_PER_MINUTE: '3', REST_RATE_SYNC_MS: '0', REQUEST_TIMEOUT_MS: '500' });
    try {
      expect((await call(g.url, 'GET', '/api/video/openapi.json')).status).toBe(200);
      await lonely.nats.stop();
      const started = Date.now();
      const statuses = [];
      const texts: string[] = [];
      for (let i = 0; i < 3; i++) {
        const res = await call(g.url, 'GET', '/api/video/openapi.json');
        statuses.push(res.status);
        if (res.status !== 200) texts.push(res.text);
      }
      // One allowed before the outage, and the replica's own count from there.
      expect(statuses, texts.join('\n')).toEqual([200, 200, 429]);
      // REQUEST_TIMEOUT_MS is 500: the first request finds the store gone, the others do not wait on it.
      expect(Date.now() - started).toBeLessThan(5_000);
      expect((await call(g.url, 'GET', '/readyz')).status).toBe(503);
      const token = await g.tokenFor(tutor);
      const other = { 'x-forwarded-for': '10.0.0.1' };
      const res = await call(g.url, 'GET', '/api/video/meetings/MID-AAAAAAAAAAAAAAAA', { token, headers: { ...other, 'x-meeting-passcode': '123456' } });
      expect([503, 429], res.text).toContain(res.status);
    } finally {
      await lonely.nats.restart();
      await expect.poll(async () => (await call(g.url, 'GET', '/readyz')).status, { timeout: 10_000 }).toBe(200);
      await g.stop();
      await lonely.cleanup();
    }
  });
});

describe('the OpenAPI document', () => {
  let runtime: Runtime;
  let revocations: Revocations;
  let app: Express;
  beforeAll(async () => {
    const config = loadGatewayConfig({ ...h.natsEnv('gateway'), JWT_SECRET: 'x'.repeat(32), JWT_ISSUER: 'test', LOG_LEVEL: 'silent' });
    runtime = await createRuntime('gateway', config, { telemetry: false });
    revocations = await startRevocations({ js: runtime.js, ttlSeconds: 3_600, logger: runtime.logger });
    app = createRestApp({ config, runtime, verifier: createTokenVerifier(config), revocations });
  });
  afterAll(async () => {
    await revocations?.stop();
    await runtime?.close();
  });

  it('is a valid OpenAPI 3.1 document', async () => {
    const doc = (await call(gw.url, 'GET', '/api/video/openapi.json')).body;
    expect(doc.openapi).toBe('3.1.0');
    const result = await new Validator().validate(doc);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    // The join answer documents the ICE servers under the seed guide's name as well.
    const join = doc.paths['/api/video/meetings/{meetingId}/join'].post.responses['200'].content['application/json'].schema;
    const joined = doc.components.schemas[join.$ref.split('/').pop()];
    expect(joined.properties.turn_servers).toEqual(expect.objectContaining({ type: 'array', items: joined.properties.iceServers.items }));
    expect(joined.required).toEqual(expect.arrayContaining(['iceServers', 'turn_servers']));
  });

  it('documents exactly the routes the app serves', async () => {
    const served = new Set<string>();
    const walk = (stack: unknown[]) => {
      for (const layer of stack as { route?: { path: string; methods: Record<string, boolean> }; handle?: { stack?: unknown[] } }[]) {
        if (layer.route) for (const method of Object.keys(layer.route.methods)) served.add(`${method} ${openApiPath(layer.route.path)}`);
        else if (layer.handle?.stack) walk(layer.handle.stack);
      }
    };
    walk((app as unknown as { router: { stack: unknown[] } }).router.stack);
    const doc = (await call(gw.url, 'GET', '/api/video/openapi.json')).body as { paths: Record<string, Record<string, unknown>> };
    const documented = new Set(Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m} ${path}`)));
    // The web app's catch-all is not part of the API.
    served.delete('get /{*path}');
    expect([...served].sort()).toEqual([...documented].sort());
    for (const required of [
      'post /api/video/meetings',
      'get /api/video/meetings',
      'get /api/video/meetings/{meetingId}',
      'get /api/video/meetings/{meetingId}/participants',
      'post /api/video/meetings/{meetingId}/join',
      'post /api/video/meetings/{meetingId}/leave',
      'post /api/video/meetings/{meetingId}/mute',
      'post /api/video/meetings/{meetingId}/end',
      'get /api/video/meetings/{meetingId}/attendance',
      'get /api/video/openapi.json',
      'get /healthz',
      'get /readyz',
    ]) {
      expect(documented).toContain(required);
    }
  });
});
