import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { decode, encode, ManualClock, type ServiceError, toJson } from '@lessoncall/kit';
import { type Harness, setup } from '@lessoncall/kit/testing';
import {
  AttendanceRequestSchema,
  AttendanceResponseSchema,
  LiveSessionsRequestSchema,
  LiveSessionsResponseSchema,
  MeetingEndedSchema,
  MeetingNoShowSchema,
  MeetingStartedSchema,
  ParticipantJoinedSchema,
  ParticipantLeftSchema,
  subjects,
  ParticipantService as ParticipantRpc,
  rpcSubject,
} from '@lessoncall/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MeetingService } from '../src/index';
import { bookingBody, meetingsOf, lastEvent, publish, start, stranger, student, subjectCounts, tutor } from './helpers';

const minute = 60_000;
const lessonStart = new Date('2026-09-01T10:00:00Z');
const at = (minutesFromStart: number) => new Date(lessonStart.getTime() + minutesFromStart * minute);

describe('meeting lifecycle', () => {
  let h: Harness;
  let svc: MeetingService;
  const clock = new ManualClock(at(-10));

  beforeAll(async () => {
    h = await setup({ postgres: true });
    svc = await start(h, clock);
  });
  afterAll(async () => {
    await svc.stop();
    await h.cleanup();
  });

  const create = async (bookingId: string, startAt = lessonStart) =>
    (await meetingsOf(h.nc).createMeeting({ ...bookingBody(bookingId, startAt), actorIsService: true })).meeting!.meetingId;
  const end = (meetingId: string, userId = tutor) => meetingsOf(h.nc).endMeeting({ meetingId, userId });
  const status = async (meetingId: string) =>
    (await h.db!.pool.query('select status, started_at, end_reason from video_meetings where meeting_id = $1', [meetingId])).rows[0];
  const eventCount = async (kind: string, meetingId: string) => Object.values(await subjectCounts(h, `meeting.${kind}.${meetingId}`))[0] ?? 0;
  const participantsIdle = () =>
    expect
      .poll(
        async () => {
          const c = await h.jsm.consumers.info('PARTICIPANTS', 'meeting-participants');
          return c.num_pending + c.num_ack_pending;
        },
        { timeout: 5_000 },
      )
      .toBe(0);

  let session = 0;
  /**
   * The live sessions the participant service would report: the meeting service asks
   * svc.participant.live_sessions (it never reads the participant service's tables). This
   * stand-in answers from what the test joined and left, on the real NATS server.
   */
  const liveSessions = new Map<string, Set<string>>();
  let participantServiceDown = false;
  const sessionsOf = (meetingId: string) => liveSessions.get(meetingId) ?? liveSessions.set(meetingId, new Set()).get(meetingId)!;
  beforeAll(() => {
    h.nc.subscribe(rpcSubject(ParticipantRpc.method.liveSessions), {
      queue: 'participant',
      callback: (_, m) => {
        if (participantServiceDown) return; // takes the request, never answers
        const req = decode(LiveSessionsRequestSchema, m.data);
        const sessions = [...sessionsOf(req.meetingId)].map((sessionId) => ({ meetingId: req.meetingId, sessionId, userId: tutor }));
        m.respond(encode(LiveSessionsResponseSchema, { sessions }));
      },
    });
  });

  /** A participant session, as the participant service records it and announces it. */
  const join = async (meetingId: string, userId: string, joinedAt: Date) => {
    const sessionId = `session-${++session}-abcdef`;
    sessionsOf(meetingId).add(sessionId);
    const participant = {
      sessionId,
      meetingId,
      userId,
      userType: userId === tutor ? 'tutor' : 'student',
      joinedAt: timestampFromDate(joinedAt),
      connected: true,
    };
    await publish(h, subjects.participantJoined(meetingId), ParticipantJoinedSchema, { participant }, { id: `joined-${sessionId}` });
    return sessionId;
  };
  const leave = async (meetingId: string, sessionId: string) => {
    sessionsOf(meetingId).delete(sessionId);
    await publish(
      h,
      subjects.participantLeft(meetingId),
      ParticipantLeftSchema,
      { participant: { sessionId, meetingId }, reason: 'left' },
      { id: `left-${sessionId}` },
    );
  };

  it('the first participant.joined starts the meeting; meeting.started is published once', async () => {
    clock.set(at(-5));
    const id = await create('life-start');
    await join(id, tutor, at(-5));
    // Events of one meeting are handled concurrently: the first join must be in before the second.
    await expect.poll(async () => (await status(id)).status, { timeout: 5_000 }).toBe('active');
    await join(id, student, at(-4));
    await participantsIdle();
    expect((await status(id)).started_at).toEqual(at(-5));
    expect(await eventCount('started', id)).toBe(1);
    const started = await lastEvent(h, subjects.meetingStarted(id), MeetingStartedSchema);
    expect(started).toMatchObject({ id: `meeting.started:${id}`, body: { meeting: { status: 'active' } } });
  });

  it('only the tutor ends a lesson; meeting.ended carries the attendance the participant service reports', async () => {
    clock.set(at(0));
    const id = await create('life-end');
    await join(id, tutor, at(0));
    await expect.poll(async () => (await status(id)).status, { timeout: 5_000 }).toBe('active');

    expect((await end(id, student).catch((e: ServiceError) => e)) as ServiceError).toMatchObject({ code: 'forbidden' });
    expect((await end(id, stranger).catch((e: ServiceError) => e)) as ServiceError).toMatchObject({ code: 'not_a_participant' });
    expect((await end('MID-ZZZZZZZZZZZZZZZZ').catch((e: ServiceError) => e)) as ServiceError).toMatchObject({ code: 'meeting_not_found' });

    const asked: { meetingId: string; actorIsService: boolean }[] = [];
    const attendance = h.nc.subscribe(rpcSubject(ParticipantRpc.method.attendance), {
      callback: (_, m) => {
        const req = decode(AttendanceRequestSchema, m.data);
        asked.push({ meetingId: req.meetingId, actorIsService: req.actorIsService });
        m.respond(
          encode(AttendanceResponseSchema, {
            attendance: { meetingId: req.meetingId, entries: [{ userId: tutor, userType: 'tutor', connectedSeconds: 1_800, sessions: 1 }] },
          }),
        );
      },
    });
    clock.set(at(30));
    const ended = await end(id);
    attendance.unsubscribe();
    expect(ended.meeting?.status).toBe('completed');
    expect(asked).toEqual([{ meetingId: id, actorIsService: true }]);
    const e = await lastEvent(h, subjects.meetingEnded(id), MeetingEndedSchema);
    expect(e.id).toBe(`meeting.ended:${id}`);
    expect(e.body.reason).toBe('ended_by_tutor');
    expect(e.body.attendance?.entries).toMatchObject([{ userId: tutor, connectedSeconds: 1_800 }]);

    // Ending again answers the ended lesson and publishes nothing more.
    expect((await end(id)).meeting?.status).toBe('completed');
    expect(await eventCount('ended', id)).toBe(1);
  });

  it('without a participant service, meeting.ended goes out without attendance rather than waiting', async () => {
    clock.set(at(0));
    const id = await create('life-end-alone');
    await end(id);
    const e = await lastEvent(h, subjects.meetingEnded(id), MeetingEndedSchema);
    expect(e.body.reason).toBe('ended_by_tutor');
    expect(e.body.attendance).toBeUndefined();
  });

  it('the last participant leaving after the scheduled end completes the meeting; leaving earlier does not', async () => {
    clock.set(at(-1));
    const late = await create('life-last-left');
    const early = await create('life-left-early');
    const tutorSession = await join(late, tutor, at(-1));
    const studentSession = await join(late, student, at(0));
    const earlySession = await join(early, tutor, at(0));
    await expect.poll(async () => [(await status(late)).status, (await status(early)).status], { timeout: 5_000 }).toEqual(['active', 'active']);

    clock.set(at(30));
    await leave(early, earlySession);
    await participantsIdle(); // handled at 10:30, before the clock moves on
    clock.set(at(61));
    await leave(late, studentSession);
    await participantsIdle();
    expect((await status(late)).status).toBe('active'); // the tutor is still there
    expect((await status(early)).status).toBe('active'); // left before the end: may come back

    // Who is left is the participant service's to say: while it does not answer, the event is
    // redelivered (with back-off) instead of dropped, and the lesson ends once it answers.
    clock.set(at(62));
    participantServiceDown = true;
    await leave(late, tutorSession);
    await expect.poll(async () => (await h.jsm.consumers.info('PARTICIPANTS', 'meeting-participants')).num_redelivered, { timeout: 10_000 }).toBeGreaterThan(0);
    expect((await status(late)).status).toBe('active');
    participantServiceDown = false;
    await expect.poll(async () => (await status(late)).end_reason, { timeout: 10_000 }).toBe('last_participant_left');
    expect((await status(late)).status).toBe('completed');
    expect((await lastEvent(h, subjects.meetingEnded(late), MeetingEndedSchema)).body.reason).toBe('last_participant_left');
  });

  it('the sweep closes meetings whose window passed, once, even with every replica sweeping at once', async () => {
    clock.set(at(0));
    const pending = await create('life-sweep-pending');
    const active = await create('life-sweep-active');
    const later = await create('life-sweep-later', at(120));
    await join(active, student, at(0));
    await expect.poll(async () => (await status(active)).status, { timeout: 5_000 }).toBe('active');

    clock.set(at(74));
    expect((await svc.sweep()).closed).toBe(0);
    clock.set(at(75));
    const replica = await start(h, clock);
    try {
      const results = await Promise.all([svc.sweep(), replica.sweep(), svc.sweep(), replica.sweep()]);
      expect(results.reduce((n, r) => n + r.closed, 0)).toBeGreaterThanOrEqual(2);
    } finally {
      await replica.stop();
    }
    for (const id of [pending, active]) {
      expect(await status(id)).toMatchObject({ status: 'completed', end_reason: 'window_closed' });
      expect(await eventCount('ended', id)).toBe(1);
      expect((await lastEvent(h, subjects.meetingEnded(id), MeetingEndedSchema)).body.reason).toBe('window_closed');
    }
    expect((await status(later)).status).toBe('pending');
    expect((await svc.sweep()).closed).toBe(0);
  });

  it('an event stranded by a crash between commit and publish is published by the sweep under its own id', async () => {
    clock.set(at(100));
    const id = await create('life-stranded', at(120));
    // The create's own events first: while its publisher is at work, the relay rightly leaves
    // the meeting's later events alone (found under load: the sweep then relayed nothing).
    const outboxCount = async () => (await h.db!.pool.query('select count(*)::int as n from video_meeting_outbox')).rows[0].n;
    await expect.poll(outboxCount, { timeout: 5_000 }).toBe(0);
    const body = toJson(MeetingStartedSchema, { meeting: { meetingId: id, status: 'active' } });
    await h.db!.pool.query('insert into video_meeting_outbox (event_id, meeting_id, subject, body, event_time) values ($1, $2, $3, $4, $5)', [
      `meeting.started:${id}`,
      id,
      subjects.meetingStarted(id),
      body,
      clock.now(),
    ]);
    expect((await svc.sweep()).relayed).toBe(0); // its publisher may still be at work
    clock.advance(10_000);
    expect((await svc.sweep()).relayed).toBe(1);
    expect((await lastEvent(h, subjects.meetingStarted(id), MeetingStartedSchema)).id).toBe(`meeting.started:${id}`);
    // Published events are cleared just after their publish.
    await expect.poll(outboxCount, { timeout: 5_000 }).toBe(0);
  });

  it('a no-show is decided from the attendance, once across replicas, and waits while the participant service does not answer', async () => {
    clock.set(at(290));
    const studentAway = await create('life-no-show', at(300));
    const bothThere = await create('life-no-show-both', at(300));
    const checkedAt = async (meetingId: string) =>
      (await h.db!.pool.query('select no_show_checked_at, no_show_published_at from video_meetings where meeting_id = $1', [meetingId])).rows[0];

    clock.set(at(309));
    expect((await svc.sweep()).noShows).toBe(0);
    // Due now, but nobody answers for attendance: nothing decided, nothing published.
    clock.set(at(310));
    expect((await svc.sweep()).noShows).toBe(0);
    expect(await checkedAt(studentAway)).toEqual({ no_show_checked_at: null, no_show_published_at: null });

    const asked: { meetingId: string; tutorId: string; studentId: string }[] = [];
    const attendance = h.nc.subscribe(rpcSubject(ParticipantRpc.method.attendance), {
      callback: (_, m) => {
        const req = decode(AttendanceRequestSchema, m.data);
        asked.push({ meetingId: req.meetingId, tutorId: req.tutorId, studentId: req.studentId });
        const entry = (userId: string, userType: string, sessions: number) => ({ userId, userType, sessions, connectedSeconds: sessions * 60 });
        const entries = [entry(tutor, 'tutor', 1), entry(student, 'student', req.meetingId === bothThere ? 2 : 0)];
        m.respond(encode(AttendanceResponseSchema, { attendance: { meetingId: req.meetingId, entries } }));
      },
    });
    const replica = await start(h, clock);
    try {
      const results = await Promise.all([svc.sweep(), replica.sweep()]);
      expect(results.reduce((n, r) => n + r.noShows, 0)).toBe(1);
      clock.advance(minute);
      expect((await Promise.all([svc.sweep(), replica.sweep()])).map((r) => r.noShows)).toEqual([0, 0]);
    } finally {
      attendance.unsubscribe();
      await replica.stop();
    }
    // Asked with the people, so a participant service that never saw the meeting can answer.
    expect(asked).toContainEqual({ meetingId: studentAway, tutorId: tutor, studentId: student });
    expect(await eventCount('no_show', studentAway)).toBe(1);
    expect(await eventCount('no_show', bothThere)).toBe(0);
    const e = await lastEvent(h, subjects.meetingNoShow(studentAway), MeetingNoShowSchema);
    expect(e.id).toBe(`meeting.no_show:${studentAway}`);
    expect(e.body).toMatchObject({ meeting: { meetingId: studentAway }, missingUserIds: [student], missingUserTypes: ['student'] });
    expect(await checkedAt(studentAway)).toEqual({ no_show_checked_at: at(310), no_show_published_at: at(310) });
    expect(await checkedAt(bothThere)).toEqual({ no_show_checked_at: at(310), no_show_published_at: null });
  });
});
