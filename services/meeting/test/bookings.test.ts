import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { decode } from '@lessoncall/kit';
import { type Harness, setup } from '@lessoncall/kit/testing';
import {
  BookingCancelledSchema,
  BookingConfirmedSchema,
  BookingRescheduledSchema,
  DeadLetterSchema,
  MeetingCancelledSchema,
  MeetingCreatedSchema,
  MeetingRescheduledSchema,
  subjects,
} from '@lessoncall/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MeetingService } from '../src/index';
import { bookingBody, bookingsSettled, confirm, lastEvent, meetingRow, publish, publishRaw, readStream, start, stranger, subjectCounts } from './helpers';

const startAt = new Date('2026-07-01T10:00:00Z');
const hours = (n: number) => new Date(startAt.getTime() + n * 3_600_000);

describe('booking events in every order', () => {
  let h: Harness;
  let svc: MeetingService;
  const deadLetters: { subject: string; reason: string; body: string }[] = [];

  beforeAll(async () => {
    h = await setup({ postgres: true });
    svc = await start(h);
    const sub = h.nc.subscribe('deadletter.>');
    void (async () => {
      for await (const m of sub) {
        const d = decode(DeadLetterSchema, m.data);
        deadLetters.push({ subject: d.subject, reason: d.reason, body: new TextDecoder().decode(d.body) });
      }
    })();
  });
  afterAll(async () => {
    await svc.stop();
    await h.cleanup();
  });

  const row = (bookingId: string) => meetingRow(h, bookingId);
  const waitForRow = async (bookingId: string, check: (r: Record<string, unknown>) => boolean = () => true) => {
    await expect
      .poll(
        async () => {
          const r = await row(bookingId);
          return r !== undefined && check(r);
        },
        { timeout: 10_000 },
      )
      .toBe(true);
    return (await row(bookingId)) as Record<string, unknown>;
  };
  const eventsOf = async (meetingId: string) => (await readStream(h, 'MEETINGS', `meeting.*.${meetingId}`)).map((e) => e.subject.split('.')[1]);

  it('cancel: the meeting is cancelled and meeting.cancelled published once, however often the cancel comes', async () => {
    await confirm(h, 'cancel-1', startAt);
    const created = await waitForRow('cancel-1');
    const meetingId = created.meeting_id as string;
    for (const id of ['c-1', 'c-1', 'c-1-again']) {
      await publish(h, subjects.bookingCancelled, BookingCancelledSchema, { bookingId: 'cancel-1', reason: 'student ill' }, { id });
    }
    const cancelled = await waitForRow('cancel-1', (r) => r.status === 'cancelled');
    expect(cancelled.ended_at).toBeInstanceOf(Date);
    await expect.poll(() => eventsOf(meetingId), { timeout: 5_000 }).toEqual(['created', 'cancelled']);
    const e = await lastEvent(h, subjects.meetingCancelled(meetingId), MeetingCancelledSchema);
    expect(e.id).toBe(`meeting.cancelled:${meetingId}`);
    expect(e.body).toMatchObject({ reason: 'student ill', meeting: { status: 'cancelled', bookingId: 'cancel-1' } });
    // Once the late copy is handled and the outbox drained, nothing more was published.
    await bookingsSettled(h);
    expect(await eventsOf(meetingId)).toEqual(['created', 'cancelled']);
  });

  it('reschedule: new times and meeting.rescheduled with the old ones; an older reschedule arriving late changes nothing', async () => {
    await confirm(h, 'move-1', startAt);
    const meetingId = (await waitForRow('move-1')).meeting_id as string;
    const move = (id: string, at: Date, from: number, to: number) =>
      publish(
        h,
        subjects.bookingRescheduled,
        BookingRescheduledSchema,
        { bookingId: 'move-1', scheduledStart: timestampFromDate(hours(from)), scheduledEnd: timestampFromDate(hours(to)) },
        { id, time: at },
      );
    await move('r-2', new Date('2026-06-02T00:00:00Z'), 2, 3);
    await waitForRow('move-1', (r) => (r.scheduled_start as Date).getTime() === hours(2).getTime());
    // Made earlier by the booking system, delivered later: stale.
    await move('r-1', new Date('2026-06-01T00:00:00Z'), 5, 6);
    // The same change published again under a new id: nothing to announce.
    await move('r-2-again', new Date('2026-06-02T00:00:01Z'), 2, 3);
    await move('r-3', new Date('2026-06-03T00:00:00Z'), 4, 5);
    const moved = await waitForRow('move-1', (r) => (r.scheduled_start as Date).getTime() === hours(4).getTime());
    expect((moved.scheduled_end as Date).toISOString()).toBe(hours(5).toISOString());
    await expect.poll(() => eventsOf(meetingId), { timeout: 5_000 }).toEqual(['created', 'rescheduled', 'rescheduled']);
    const last = await lastEvent(h, subjects.meetingRescheduled(meetingId), MeetingRescheduledSchema);
    expect(last.id).toBe(`meeting.rescheduled:${meetingId}:r-3`);
    expect(last.body.previousStart?.seconds).toBe(BigInt(hours(2).getTime() / 1000));
    expect(last.body.meeting?.scheduledStart?.seconds).toBe(BigInt(hours(4).getTime() / 1000));
  });

  it('out of order: a cancel or reschedule before the confirm is remembered and applied when the meeting is made', async () => {
    await publish(h, subjects.bookingCancelled, BookingCancelledSchema, { bookingId: 'early-cancel', reason: 'changed mind' }, { id: 'ec-1' });
    await publish(
      h,
      subjects.bookingRescheduled,
      BookingRescheduledSchema,
      { bookingId: 'early-move', scheduledStart: timestampFromDate(hours(24)), scheduledEnd: timestampFromDate(hours(25)) },
      { id: 'em-1' },
    );
    await expect
      .poll(async () => Number((await h.db!.pool.query("select count(*) from video_booking_state where booking_id like 'early-%'")).rows[0].count), {
        timeout: 5_000,
      })
      .toBe(2);
    expect(await row('early-cancel')).toBeUndefined();

    await confirm(h, 'early-cancel', startAt);
    await confirm(h, 'early-move', startAt);
    const cancelled = await waitForRow('early-cancel');
    expect(cancelled.status).toBe('cancelled');
    const moved = await waitForRow('early-move');
    expect(moved.status).toBe('pending');
    expect((moved.scheduled_start as Date).toISOString()).toBe(hours(24).toISOString());

    // created, then cancelled, in that order on the stream.
    await expect.poll(() => eventsOf(cancelled.meeting_id as string), { timeout: 5_000 }).toEqual(['created', 'cancelled']);
    const e = await lastEvent(h, subjects.meetingCancelled(cancelled.meeting_id as string), MeetingCancelledSchema);
    expect(e.body.reason).toBe('changed mind');
    await expect.poll(() => eventsOf(moved.meeting_id as string), { timeout: 5_000 }).toEqual(['created']);
    const c = await lastEvent(h, subjects.meetingCreated(moved.meeting_id as string), MeetingCreatedSchema);
    expect(c.body.meeting?.scheduledStart?.seconds).toBe(BigInt(hours(24).getTime() / 1000));
  });

  it('malformed and invalid events go to the dead-letter subject with the reason, and the stream moves on', async () => {
    await publishRaw(h, subjects.bookingConfirmed, '{"bookingId": 42, "nope": true', { id: 'bad-json' });
    await publish(h, subjects.bookingConfirmed, BookingConfirmedSchema, bookingBody('bad-tutor', startAt, 60, { tutorId: 'tutor-7' }), {
      id: 'bad-tutor',
    });
    await publish(h, subjects.bookingConfirmed, BookingConfirmedSchema, bookingBody('bad-times', startAt, -30), {
      id: 'bad-times',
    });
    // No CloudEvents headers at all.
    await h.js.publish(subjects.bookingCancelled, new TextEncoder().encode('{"bookingId":"cancel-1"}'), { msgID: 'no-headers' });
    await confirm(h, 'after-the-bad-ones', startAt);

    await waitForRow('after-the-bad-ones');
    await expect.poll(() => deadLetters.length, { timeout: 5_000 }).toBeGreaterThanOrEqual(4);
    const reasons = deadLetters.map((d) => `${d.subject}: ${d.reason}`).join('\n');
    expect(reasons).toMatch(/booking\.confirmed: .*BookingConfirmed/);
    expect(reasons).toMatch(/booking\.confirmed: tutorId must be a uuid/);
    expect(reasons).toMatch(/booking\.confirmed: scheduledEnd must be after scheduledStart/);
    expect(reasons).toMatch(/booking\.cancelled: missing CloudEvents header ce-/);
    expect(await row('bad-tutor')).toBeUndefined();
    const metrics = await svc.runtime.metrics.text();
    expect(metrics).toMatch(/meeting_dead_letters_total\{subject="booking.confirmed"/);
    const info = await h.jsm.consumers.info('BOOKINGS', 'meeting-bookings');
    expect(info.num_pending + info.num_ack_pending).toBe(0);
  });

  it('a second confirm of a booking for other people is refused (dead-lettered) and changes nothing', async () => {
    await confirm(h, 'conflict-1', startAt);
    const original = await waitForRow('conflict-1');
    await confirm(h, 'conflict-1', startAt, 'conflict-1-other', { studentId: stranger });
    await expect.poll(() => deadLetters.some((d) => /conflict-1 already has meeting/.test(d.reason)), { timeout: 5_000 }).toBe(true);
    expect((await row('conflict-1'))?.student_id).toBe(original.student_id);
    expect(Object.keys(await subjectCounts(h, `meeting.created.${original.meeting_id}`))).toHaveLength(1);
    const processed = await svc.runtime.metrics.text();
    expect(processed).toMatch(/type="booking.confirmed",outcome="conflict"[^\n]* 1$/m);
    expect(processed).toMatch(/type="booking.confirmed",outcome="invalid"[^\n]* 2$/m);
    expect(processed).toMatch(/type="booking.cancelled",outcome="cancelled"[^\n]* 1$/m);
    expect(processed).toMatch(/type="booking.rescheduled",outcome="stale"[^\n]* 1$/m);
  });
});
