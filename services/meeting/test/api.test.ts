import { timestampDate, timestampFromDate } from '@bufbuild/protobuf/wkt';
import { ManualClock, ServiceError } from '@lessoncall/kit';
import { type Harness, metricValue, setup } from '@lessoncall/kit/testing';
import { BookingCancelledSchema, subjects } from '@lessoncall/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MeetingService } from '../src/index';
import { bookingBody, meetingsOf, publish, start, stranger, student, subjectCounts, tutor } from './helpers';

const minute = 60_000;
const lessonStart = new Date('2026-08-01T10:00:00Z');
const at = (minutesFromStart: number) => new Date(lessonStart.getTime() + minutesFromStart * minute);

describe('svc.meeting.* endpoints', () => {
  let h: Harness;
  let svc: MeetingService;
  const clock = new ManualClock(at(-60));

  beforeAll(async () => {
    h = await setup({ postgres: true });
    svc = await start(h, clock);
  });
  afterAll(async () => {
    await svc.stop();
    await h.cleanup();
  });

  const create = (bookingId: string, extra: Partial<Parameters<typeof bookingBody>[3]> & { actorUserId?: string; actorIsService?: boolean } = {}) =>
    meetingsOf(h.nc).createMeeting({
      ...bookingBody(bookingId, lessonStart, 60, extra),
      actorIsService: extra.actorIsService ?? extra.actorUserId === undefined,
      actorUserId: extra.actorUserId ?? '',
    });
  const verify = (meetingId: string, passcode: string, userId = tutor, clientKey = '') =>
    meetingsOf(h.nc).verifyJoin({ meetingId, userId, passcode, clientKey });
  const get = (meetingId: string, userId: string, passcode = '') => meetingsOf(h.nc).getMeeting({ meetingId, userId, passcode });
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
      expect(first.url).toBe(`https://lessons.test/meet/${first.meeting?.meetingId}#pwd=${first.passcode}`);
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
        meetingsOf(h.nc).createMeeting({
          bookingId: 'api-create-5',
          tutorId: tutor,
          studentId: student,
          scheduledStart: timestampFromDate(lessonStart),
          actorIsService: true,
        }),
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
        meetingsOf(h.nc).findMeetingByBooking({ bookingId: 'api-find-1', ...body });
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
      expect((await failure(get(id, tutor, m.passcode))).code).toBe('passcode_locked');

      clock.advance(14 * minute);
      expect((await failure(verify(id, m.passcode))).retryAfterSeconds).toBe(60);
      clock.advance(minute);
      expect((await verify(id, m.passcode)).userType).toBe('tutor');
      // After the lock, counting starts afresh.
      expect((await failure(verify(id, wrong(m.passcode)))).attemptsLeft).toBe(4);

      const metrics = await svc.runtime.metrics.text();
      expect(metricValue(metrics, 'meeting_passcode_locks_total', { scope: 'client' })).toBeGreaterThanOrEqual(1);
    });

    it("locks one user on one client: the student's 5 failures do not lock the tutor", async () => {
      clock.set(at(0));
      const m = await create('api-lock-2');
      const id = m.meeting!.meetingId;
      // Same client address for both (one household, one NAT): still two counters.
      for (let i = 0; i < 5; i++) await failure(verify(id, wrong(m.passcode), student, '198.51.100.7'));
      expect((await failure(verify(id, m.passcode, student, '198.51.100.7'))).code).toBe('passcode_locked');
      expect((await verify(id, m.passcode, tutor, '198.51.100.7')).userType).toBe('tutor');
      expect((await get(id, tutor, m.passcode)).meeting?.meetingId).toBe(id);
      // The tutor's own typo counts from five, not from the student's zero.
      const typo = await failure(verify(id, wrong(m.passcode), tutor, '198.51.100.7'));
      expect([typo.code, typo.attemptsLeft]).toEqual(['passcode_invalid', 4]);
      // The student on another network is a different key; an IPv6 neighbour in the same /64 is not.
      expect((await verify(id, m.passcode, student, '203.0.113.9')).userType).toBe('student');
      for (let i = 0; i < 5; i++) await failure(verify(id, wrong(m.passcode), student, '2001:db8:1:2::a'));
      expect((await failure(verify(id, m.passcode, student, '2001:db8:1:2:ffff::1'))).code).toBe('passcode_locked');
      const { rows } = await h.db!.pool.query<{ user_id: string; client_key: string; failures: number; locked: boolean }>(
        'select user_id, client_key, failures, locked_until is not null as locked from video_passcode_failures where meeting_id = $1 order by user_id, client_key',
        [id],
      );
      expect(rows).toEqual([
        { user_id: tutor, client_key: '198.51.100.7', failures: 1, locked: false },
        { user_id: student, client_key: '198.51.100.7', failures: 5, locked: true },
        { user_id: student, client_key: '2001:db8:1:2::/64', failures: 5, locked: true },
      ]);
    });

    it('judges at most 5 of 50 parallel wrong guesses and refuses the right one once locked', async () => {
      clock.set(at(0));
      // The right guess at a few places in the burst: early, it races the first failures; late,
      // the lock. Each place gets its own meeting.
      for (const [round, rightAt] of [3, 6, 12, 40].entries()) {
        const m = await create(`api-lock-3-${round}`);
        const id = m.meeting!.meetingId;
        const guesses = Array.from({ length: 51 }, (_, i) => (i === rightAt ? m.passcode : wrong(m.passcode)));
        const outcomes = await Promise.all(
          guesses.map((p) =>
            verify(id, p, student, '192.0.2.50').then(
              () => 'ok',
              (e: unknown) => (e instanceof ServiceError ? e.code : String(e)),
            ),
          ),
        );
        const count = (code: string) => outcomes.filter((o) => o === code).length;
        const right = outcomes[rightAt];
        expect({ round, invalid: count('passcode_invalid'), right }).toEqual({ round, invalid: 5, right: expect.stringMatching(/^(ok|passcode_locked)$/) });
        expect(count('passcode_locked')).toBe(right === 'ok' ? 45 : 46);
        // Once locked, the right passcode is refused too.
        expect((await failure(verify(id, m.passcode, student, '192.0.2.50'))).code).toBe('passcode_locked');
      }
    });

    it('judges a right guess after a failure that holds the lock, not from the row it read before', async () => {
      clock.set(at(0));
      const m = await create('api-lock-4');
      const id = m.meeting!.meetingId;
      for (let i = 0; i < 4; i++) await failure(verify(id, wrong(m.passcode), student, '192.0.2.60'));
      // Play the fifth failure by hand: hold the counter's row lock, as a concurrent failure does.
      const holder = await h.db!.pool.connect();
      try {
        await holder.query('begin');
        await holder.query("select 1 from video_passcode_failures where meeting_id = $1 and client_key = '192.0.2.60' for update", [id]);
        const right = verify(id, m.passcode, student, '192.0.2.60').then(
          () => 'ok',
          (e: unknown) => (e instanceof ServiceError ? e.code : String(e)),
        );
        // The right guess must wait for that lock: a backend of the service blocks on it.
        await expect
          .poll(async () => (await h.db!.pool.query("select count(*)::int as n from pg_stat_activity where wait_event_type = 'Lock'")).rows[0].n, {
            timeout: 5_000,
          })
          .toBe(1);
        await holder.query("update video_passcode_failures set failures = 5, locked_until = $2 where meeting_id = $1 and client_key = '192.0.2.60'", [
          id,
          at(15),
        ]);
        await holder.query('commit');
        expect(await right).toBe('passcode_locked');
      } finally {
        holder.release();
      }
    });
  });
});
