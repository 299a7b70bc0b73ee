import { describe, expect, it } from 'vitest';
import { GatewayApi, problemToError } from './api';

function respond(status: number, body: unknown, headers: Record<string, string> = {}) {
  return async () =>
    new Response(body === undefined ? null : JSON.stringify(body), { status, headers: { 'content-type': 'application/problem+json', ...headers } });
}

describe('problemToError', () => {
  it('keeps the code and the fields that explain it', () => {
    const e = problemToError(401, { type: 'about:blank', title: 'Wrong passcode', status: 401, code: 'passcode_invalid', attemptsLeft: 2 });
    expect(e).toMatchObject({ name: 'GatewayError', code: 'passcode_invalid', status: 401, attemptsLeft: 2, message: 'Wrong passcode' });
    expect(problemToError(423, { code: 'passcode_locked', retryAfterSeconds: 300 })).toMatchObject({ code: 'passcode_locked', retryAfterSeconds: 300 });
  });

  it('falls back to the Retry-After header and to the status', () => {
    expect(problemToError(409, { code: 'meeting_not_started' }, '120').retryAfterSeconds).toBe(120);
    expect(problemToError(503, undefined).code).toBe('unavailable');
    expect(problemToError(404, undefined).code).toBe('not_found');
  });
});

/** A GatewayApi whose fetch answers `body` with 200 and remembers what it was asked. */
function recording(body: unknown) {
  const asked: { url: string; init: RequestInit | undefined } = { url: '', init: undefined };
  const api = new GatewayApi('http://gw', async (input, init) => {
    asked.url = input;
    asked.init = init;
    return new Response(JSON.stringify(body), { status: 200 });
  });
  return { api, asked };
}

describe('GatewayApi', () => {
  it('asks for the connection check’s TURN servers with the passcode, keeping only well-formed entries', async () => {
    const { api, asked } = recording({
      iceServers: [{ urls: ['turn:t:3478?transport=udp'], username: '1:u', credential: 'c' }, { urls: [] }, 'junk'],
      ttlSeconds: 300,
      expiresAt: '2030-01-01T10:05:00Z',
    });
    expect(await api.precallIceServers('MID-ABCDEFGHJKMNPQRS', '123456', 'tok')).toEqual([
      { urls: ['turn:t:3478?transport=udp'], username: '1:u', credential: 'c' },
    ]);
    expect(asked.url).toBe('http://gw/api/video/meetings/MID-ABCDEFGHJKMNPQRS/precall');
    expect(asked.init?.method).toBe('POST');
    expect(asked.init?.body).toBe('{"passcode":"123456"}');
    expect(asked.init?.headers).toMatchObject({ authorization: 'Bearer tok' });
    const refused = await new GatewayApi('http://gw', respond(429, { code: 'rate_limited', retryAfterSeconds: 30 }))
      .precallIceServers('MID-ABCDEFGHJKMNPQRS', '123456', 'tok')
      .catch((e) => e);
    expect(refused).toMatchObject({ code: 'rate_limited', retryAfterSeconds: 30 });
  });

  it('sends the token and passcode and reads the meeting in proto3 JSON', async () => {
    const { api, asked } = recording({
      meeting: { meetingId: 'MID-ABCDEFGHJKMNPQRS', title: 'Algebra', status: 'pending', scheduledStart: '2030-01-01T10:00:00Z', futureField: 1 },
      participants: [{ sessionId: 's1', userId: 'u1', userType: 'tutor', displayName: 'Ada', isMuted: true, connected: true }],
    });
    const d = await api.getMeeting('MID-ABCDEFGHJKMNPQRS', '123456', 'tok');
    expect(asked.url).toBe('http://gw/api/video/meetings/MID-ABCDEFGHJKMNPQRS');
    expect(asked.init?.headers).toMatchObject({ authorization: 'Bearer tok', 'x-meeting-passcode': '123456' });
    expect(asked.init?.headers).toMatchObject({ traceparent: expect.stringMatching(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/) });
    expect(d.meeting).toMatchObject({ title: 'Algebra', status: 'pending', scheduledStart: new Date('2030-01-01T10:00:00Z') });
    expect(d.participants[0]).toMatchObject({ displayName: 'Ada', userType: 'tutor', audioMuted: true, connected: true });
  });

  it('turns problem+json into GatewayError', async () => {
    const api = new GatewayApi('', respond(403, { code: 'not_a_participant', title: 'Not yours' }));
    await expect(api.getMeeting('MID-ABCDEFGHJKMNPQRS', '123456', 't')).rejects.toMatchObject({ code: 'not_a_participant', status: 403 });
  });

  it('calls an unreachable server unavailable', async () => {
    const api = new GatewayApi('', async () => {
      throw new TypeError('Failed to fetch');
    });
    await expect(api.getMeeting('MID-ABCDEFGHJKMNPQRS', '123456', 't')).rejects.toMatchObject({ code: 'unavailable' });
  });

  it('reads the dev issuer config, and treats 404 as off', async () => {
    const on = new GatewayApi(
      '',
      respond(200, {
        devIssuer: true,
        demoUsers: [
          { userId: 'u1', displayName: 'Demo Tutor', userType: 'tutor' },
          { as: 'student', userId: 'u2', name: 'Demo Student' },
        ],
      }),
    );
    expect(await on.devConfig()).toEqual({
      devIssuer: true,
      demoUsers: [
        { as: 'tutor', userId: 'u1', name: 'Demo Tutor' },
        { as: 'student', userId: 'u2', name: 'Demo Student' },
      ],
    });
    const off = new GatewayApi('', respond(404, { code: 'not_found' }));
    expect(await off.devConfig()).toBeUndefined();
  });

  it('builds the socket URL from the page origin, the meeting as its routing key', () => {
    expect(GatewayApi.webSocketUrl('m-1', { protocol: 'https:', host: 'lessons.example.com' })).toBe('wss://lessons.example.com/api/video/ws?meeting=m-1');
    expect(GatewayApi.webSocketUrl('m-1', { protocol: 'http:', host: 'localhost:5173' })).toBe('ws://localhost:5173/api/video/ws?meeting=m-1');
  });
});
