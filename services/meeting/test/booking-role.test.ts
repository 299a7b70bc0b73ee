import { type Harness, setup } from '@lessoncall/kit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bookAndWait } from '@lessoncall/booking-system';
import type { MeetingService } from '../src/index';
import { start, student, tutor } from './helpers';

// The booking system holds only its own role (publish booking.>, subscribe meeting.> and
// participant.>): `npm run book` must still get its meeting back through the real server.
describe('booking system role', () => {
  let h: Harness;
  let svc: MeetingService;
  beforeAll(async () => {
    h = await setup({ postgres: true });
    svc = await start(h);
  });
  afterAll(async () => {
    await svc?.stop();
    await h?.cleanup();
  });

  it('books a lesson and receives meeting.created as the booking user', async () => {
    const nc = await h.connectAs('booking');
    const scheduledStart = new Date(Date.now() + 3_600_000);
    const booking = {
      bookingId: 'role-booking-1',
      tutorId: tutor,
      studentId: student,
      scheduledStart,
      scheduledEnd: new Date(scheduledStart.getTime() + 3_600_000),
    };
    const created = await bookAndWait(nc, nc.jetstream(), booking, 20_000);
    expect(created.meeting?.bookingId).toBe('role-booking-1');
    const row = await h.db!.pool.query('select booking_id from video_meetings where booking_id = $1', ['role-booking-1']);
    expect(row.rowCount).toBe(1);
  });
});
