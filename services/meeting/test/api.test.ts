import { timestampDate, timestampFromDate } from '@bufbuild/protobuf/wkt';
import { ManualClock, ServiceError } from '@lessoncall/kit';
import { type Harness, setup } from '@lessoncall/kit/testing';
import {
  BookingCancelledSchema,
  CreateMeetingRequestSchema,
  CreateMeetingResponseSchema,
  FindMeetingByBookingRequestSchema,
  FindMeetingByBookingResponseSchema,
  GetMeetingRequestSchema,
  GetMeetingResponseSchema,
  rpc,
  subjects,
  VerifyJoinRequestSchema,
  VerifyJoinResponseSchema,
} from '@lessoncall/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MeetingService } from '../src/index';
import { bookingBody, call, publish, start, stranger, student, subjectCounts, tutor } from './helpers';

const minute = 60_000;
const lessonStart = new Date('2026-08-01T10:00:00Z');
const at = (minutesFromStart: number) => new Date(lessonStart.getTime() + minutesFromStart * minute);

describe('svc.meeting.* endpoints', () => {
  let h: Harness;
  let svc: MeetingService;
  const clock = new ManualClock(at(-60));

  beforeAll(async () => {
    h = await setup({ postgres: true, auth: true });
    svc = await start(h, clock);
  });
  afterAll(async () => {
    await svc.stop();
    await h.cleanup();
  });

  const create = (bookingId: string, extra: Partial<Parameters<typeof bookingBody>[3]> & { actorUserId?: string; actorIsService?: boolean } = {}) =>
    call(
      h.nc,
      rpc.meetingCreate,
      CreateMeetingRequestSchema,
      {
        ...bookingBody(bookingId, lessonStart, 60, extra),
        actorIsService: extra.actorIsService ?? extra.actorUserId === undefined,
        actorUserId: extra.actorUserId ?? '',
      },
      CreateMeetingResponseSchema,
    );
  const verify = (meetingId: string, passcode: string, userId = tutor, clientKey = '') =>
    call(h.nc, rpc.meetingVerifyJoin, VerifyJoinRequestSchema, { meetingId, userId, passcode, clientKey }, VerifyJoinResponseSchema);
  const get = (meetingId: string, userId: string, passcode = '') =>
    call(h.nc, rpc.meetingGet, GetMeetingRequestSchema, { meetingId, userId, passcode }, GetMeetingResponseSchema);
  const failure = async (p: Promise<unknown>): Promise<ServiceError> => {
    const err = await p.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ServiceError);
    return err as ServiceError;
  };
  const wrong = (passcode: string) => (passcode === '000000' ? '111111' : '000000');

  describe('create', () => {
    it('creates once per booking; a replay answers the same meeting with created=false', async () => {
      const first = await create('api-create-1');
      expect(first.created).toBe(true);
      expect(first.passcode).toMatch(/^[0-9]{6}$/);
      expect(first.url).toBe(`https://lessons.test/meet/${first.meeting?.meetingId}?pwd=${first.passcode}`);
      expect(first.meeting?.status).toBe('pending');
      expect(timestampDate(first.meeting!.joinableFrom!).toISOString()).toBe(at(-15).toISOString());
      expect(timestampDate(first.meeting!.joinableUntil!).toISOString()).toBe(at(75).toISOString());
      const again = await create('api-create-1');
      expect(again).toMatchObject({ created: false, passcode: first.passcode, url: first.url, meeting: { meetingId: first.meeting?.meetingId } });
      await expect.poll(async () => Object.values(await subjectCounts(h, `meeting.created.${first.meeting?.meetingId}`))).toEqual([1]);
    });

    it('lets the tutor create, refuses anybody else, and refuses a booking already used for other people', async () => {
      expect((await create('api-create-2', { actorUserId: tutor })).created).toBe(true);
      expect((await failure(create('api-create-3', { actorUserId: student }))).code).toBe('forbidden');
      expect((await failure(create('api-create-3', { actorUserId: stranger }))).code).toBe('forbidden');
      // The tutor's own meeting for that booking, again with somebody else: a conflict in the tutor's namespace.
      const conflict = await failure(create('api-create-2', { actorUserId: tutor, studentId: stranger }));
      expect(conflict.code).toBe('conflict');
      // The booking system's meeting for the same booking id is its own: a user's meeting never took it.
      expect((await create('api-create-2', { studentId: stranger })).created).toBe(true);
      const booked = await failure(create('api-create-2', { studentId: student }));
      expect(booked.code).toBe('conflict');
    });

    it('names the invalid field', async () => {
      const bad = await failure(create('api-create-4', { tutorId: 'not-a-uuid' }));
      expect([bad.code, bad.field]).toEqual(['invalid_request', 'tutorId']);
      const noEnd = await failure(
        call(
          h.nc,
          rpc.meetingCreate,
          CreateMeetingRequestSchema,
          { bookingId: 'api-create-5', tutorId: tutor, studentId: student, scheduledStart: timestampFromDate(lessonStart), actorIsService: true },
          CreateMeetingResponseSchema,
        ),
      );
      expect([noEnd.code, noEnd.field]).toEqual(['invalid_request', 'scheduledEnd']);
    });
  });

  describe('get and find_by_booking', () => {
    it('shows a meeting to its tutor and student only (RLS), checking a passcode when one is given', async () => {
      const m = await create('api-get-1');
      const id = m.meeting!.meetingId;
      expect((await get(id, tutor)).meeting?.bookingId).toBe('api-get-1');
      expect((await get(id, student, m.passcode)).meeting?.meetingId).toBe(id);
      expect((await failure(get(id, stranger))).code).toBe('meeting_not_found');
      expect((await failure(get('MID-ZZZZZZZZZZZZZZZZ', tutor))).code).toBe('meeting_not_found');
      const bad = await failure(get('MID-nope', tutor));
      expect([bad.code, bad.field]).toEqual(['invalid_request', 'meetingId']);
      expect((await failure(get(id, 'someone'))).field).toBe('userId');
      const wrongCode = await failure(get(id, tutor, wrong(m.passcode)));
      expect([wrongCode.code, wrongCode.attemptsLeft]).toEqual(['passcode_invalid', 4]);
    });

    it('finds a meeting by booking for the booking system, its people, and nobody else', async () => {
      const m = await create('api-find-1');
      const find = (body: { userId?: string; actorIsService?: boolean; bookingId?: string }) =>
        call(h.nc, rpc.meetingFindByBooking, FindMeetingByBookingRequestSchema, { bookingId: 'api-find-1', ...body }, FindMeetingByBookingResponseSchema);
      expect((await find({ actorIsService: true })).meeting?.meetingId).toBe(m.meeting?.meetingId);
      expect((await find({ userId: student })).meeting?.meetingId).toBe(m.meeting?.meetingId);
      expect((await failure(find({ userId: stranger }))).code).toBe('meeting_not_found');
      expect((await failure(find({ actorIsService: true, bookingId: 'no-such-booking' }))).code).toBe('meeting_not_found');
      expect((await failure(find({ actorIsService: true, bookingId: '' }))).field).toBe('bookingId');
    });
  });

  describe('verify_join', () => {
    it('answers every reason a user cannot join, in order: who, passcode, then time', async () => {
      const m = await create('api-join-1');
      const id = m.meeting!.meetingId;
      expect((await failure(verify('MID-ZZZZZZZZZZZZZZZZ', m.passcode))).code).toBe('meeting_not_found');
      expect((await failure(verify(id, m.passcode, stranger))).code).toBe('not_a_participant');
      expect((await failure(verify(id, ''))).field).toBe('passcode');

      clock.set(at(-20));
      const early = await failure(verify(id, m.passcode));
      expect([early.code, early.retryAfterSeconds]).toEqual(['meeting_not_started', 300]);
      // A wrong passcode is refused before the time is told.
      expect((await failure(verify(id, wrong(m.passcode)))).code).toBe('passcode_invalid');

      clock.set(at(-15));
      expect(await verify(id, m.passcode)).toMatchObject({ userType: 'tutor', meeting: { meetingId: id } });
      expect((await verify(id, m.passcode, student)).userType).toBe('student');

      clock.set(at(74));
      expect((await verify(id, m.passcode)).userType).toBe('tutor');
      clock.set(at(75));
      expect((await failure(verify(id, m.passcode))).code).toBe('meeting_ended');

      clock.set(at(0));
      await publish(h, subjects.bookingCancelled, BookingCancelledSchema, { bookingId: 'api-join-1', reason: 'tutor ill' }, { id: 'api-join-1-cancel' });
      await expect.poll(async () => (await failure(verify(id, m.passcode))).code, { timeout: 5_000 }).toBe('meeting_cancelled');
    });

    it('locks the passcode after 5 failures, refuses even the right one, and opens again when the lock expires', async () => {
      clock.set(at(0));
      const m = await create('api-lock-1');
      const id = m.meeting!.meetingId;
      const left: (number | undefined)[] = [];
      for (let i = 0; i < 5; i++) {
        const e = await failure(verify(id, wrong(m.passcode)));
        expect(e.code).toBe('passcode_invalid');
        left.push(e.attemptsLeft);
      }
      expect(left).toEqual([4, 3, 2, 1, 0]);
      const locked = await failure(verify(id, m.passcode));
      expect([locked.code, locked.retryAfterSeconds, locked.status]).toEqual(['passcode_locked', 900, 423]);
      // Another user, another client: the meeting is locked for everybody.
      expect((await failure(verify(id, m.passcode, student, '10.0.0.9'))).code).toBe('passcode_locked');
      expect((await failure(get(id, tutor, m.passcode))).code).toBe('passcode_locked');

      clock.advance(14 * minute);
      expect((await failure(verify(id, m.passcode))).retryAfterSeconds).toBe(60);
      clock.advance(minute);
      expect((await verify(id, m.passcode)).userType).toBe('tutor');
      // After the lock, counting starts afresh.
      expect((await failure(verify(id, wrong(m.passcode)))).attemptsLeft).toBe(4);

      const metrics = await svc.runtime.registry.getMetricsAsJSON();
      const locks = metrics.find((x) => x.name === 'meeting_passcode_locks_total');
      expect(locks?.values.find((v) => v.labels.scope === 'meeting')?.value).toBeGreaterThanOrEqual(1);
    });

    it('counts per client too: a guesser stays locked out after the real user gets in', async () => {
      clock.set(at(0));
      const m = await create('api-lock-2');
      const id = m.meeting!.meetingId;
      for (let i = 0; i < 4; i++) await failure(verify(id, wrong(m.passcode), student, 'guesser'));
      // The real tutor gets in: the meeting's counter is cleared, the guesser's is not.
      expect((await verify(id, m.passcode, tutor, 'tutor-laptop')).userType).toBe('tutor');
      const fifth = await failure(verify(id, wrong(m.passcode), student, 'guesser'));
      expect([fifth.code, fifth.attemptsLeft]).toEqual(['passcode_invalid', 0]);
      expect((await failure(verify(id, m.passcode, student, 'guesser'))).code).toBe('passcode_locked');
      expect((await verify(id, m.passcode, student, 'student-phone')).userType).toBe('student');
      const { rows } = await h.db!.pool.query('select client_key, failures, locked_until from video_passcode_failures where meeting_id = $1', [id]);
      expect(rows).toEqual([{ client_key: 'guesser', failures: 5, locked_until: new Date(at(15)) }]);
    });
  });
});
