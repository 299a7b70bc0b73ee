import { create } from '@bufbuild/protobuf';
import { MeetingSchema, MeetingService, rpcSubject, TurnService } from '@lessoncall/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, createLogger, Db, readiness, serve, servePartial, ServiceError, ServiceUnavailableError } from '../src/index';
import { type Harness, setup } from '../src/testing/index';

const logger = createLogger('kit-test', { level: 'silent' });
const tutor = '11111111-1111-4111-8111-111111111111';
const student = '22222222-2222-4222-8222-222222222222';
const stranger = '33333333-3333-4333-8333-333333333333';

describe('request/reply and Postgres through the harness', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await setup({ postgres: true });
    await servePartial(
      h.nc,
      MeetingService,
      {
        getMeeting: async (req) => {
          if (req.meetingId === 'MID-THROWS') throw new Error('boom with secret details');
          if (req.passcode !== '123456') throw new ServiceError('passcode_invalid', 'wrong passcode', { attemptsLeft: 3 });
          return { meeting: create(MeetingSchema, { meetingId: req.meetingId, status: 'pending' }) };
        },
      },
      { logger },
    );
  });
  afterAll(() => h.cleanup());

  it('answers, maps a typed error to its code, hides an unexpected one, and never hangs', async () => {
    const meetings = client(h.nc, MeetingService, { timeoutMs: 2_000 });
    const ok = await meetings.getMeeting({ meetingId: 'MID-A', passcode: '123456' });
    expect(ok.meeting?.status).toBe('pending');

    const wrong = await meetings.getMeeting({ meetingId: 'MID-A', passcode: '000000' }).catch((e) => e);
    expect(wrong).toBeInstanceOf(ServiceError);
    expect(wrong.code).toBe('passcode_invalid');
    expect(wrong.attemptsLeft).toBe(3);
    expect(wrong.status).toBe(403);

    const boom = await meetings.getMeeting({ meetingId: 'MID-THROWS' }).catch((e) => e);
    expect(boom.code).toBe('internal');
    expect(boom.message).not.toMatch(/secret/);

    // Only getMeeting is served: another method of the same service has nobody to answer it.
    const unserved = await meetings.endMeeting({ meetingId: 'MID-A' }, { timeoutMs: 500 }).catch((e) => e);
    expect(unserved).toBeInstanceOf(ServiceUnavailableError);
    expect(unserved.subject).toBe('svc.meeting.end');

    const missing = await client(h.nc, TurnService, { timeoutMs: 500 })
      .turnCredentials({})
      .catch((e) => e);
    expect(missing).toBeInstanceOf(ServiceUnavailableError);
    expect(missing.status).toBe(503);
  });

  it('will not serve a service with a method left unanswered', () => {
    const onlyOne = { getMeeting: async () => ({}) };
    // @ts-expect-error: serve's type refuses an incomplete service already; this is the check for untyped callers.
    expect(() => serve(h.nc, MeetingService, onlyOne, { logger })).toThrow(
      /no handler for CreateMeeting, VerifyJoin, EndMeeting, FindMeetingByBooking, DescribeMeeting/,
    );
  });

  it('a malformed request body gets invalid_request naming the problem', async () => {
    const reply = await h.nc.request(rpcSubject(MeetingService.method.getMeeting), new TextEncoder().encode('{"meetingId": 5}'), { timeout: 2_000 });
    expect(reply.headers?.get('Nats-Service-Error-Code')).toBe('400');
    expect(reply.headers?.get('Nats-Service-Error')).toBe('invalid_request');
  });

  it('runs user reads under RLS: the tutor sees the meeting, a stranger does not', async () => {
    const db = h.db as Db;
    await db.asService((tx) =>
      tx.query(
        `insert into video_meetings (meeting_id, booking_id, tutor_id, student_id, passcode, scheduled_start, scheduled_end)
         values ('MID-ABCDEFGHJKLMNPQR', 'bk-1', $1, $2, '123456', now(), now() + interval '1 hour')`,
        [tutor, student],
      ),
    );
    const count = (user: string) => db.asUser(user, async (tx) => (await tx.query('select meeting_id from video_meetings')).rowCount);
    expect(await count(tutor)).toBe(1);
    expect(await count(student)).toBe(1);
    expect(await count(stranger)).toBe(0);
    const write = await db.asUser(tutor, (tx) => tx.query(`update video_meetings set status = 'cancelled'`)).catch((e) => e);
    expect(write.code).toBe('42501');
  });

  it('is ready only while NATS and Postgres answer', async () => {
    const db = new Db({ url: h.postgres!.url, max: 2 });
    const checks = { nats: () => h.nc.flush(), postgres: () => db.ping() };
    expect((await readiness(checks)).ready).toBe(true);
    await h.postgres!.restart();
    await expect.poll(async () => (await readiness(checks)).ready, { timeout: 10_000 }).toBe(true);
    await db.close();
  });
});
