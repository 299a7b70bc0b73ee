import { type Harness, setup } from '@lessoncall/kit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bookAndWait } from '@lessoncall/booking-system';
import type { MeetingService } from '../src/index';
import { decode, jetstream, jetstreamManager } from '@lessoncall/kit';
import { MeetingLinkCreatedSchema } from '@lessoncall/proto';
import { AckPolicy } from '@nats-io/jetstream';
import { readStream, start, student, tutor } from './helpers';

// The booking system holds only its own role (publish booking.>, subscribe meeting.>,
// participant.> and meeting_link.>): `npm run booking` must still get its meeting back
// through the real server, and it alone gets the passcode.
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

  it('books a lesson and receives its passcode and link as the booking user', async () => {
    const nc = await h.connectAs('booking');
    const scheduledStart = new Date(Date.now() + 3_600_000);
    const booking = {
      bookingId: 'role-booking-1',
      tutorId: tutor,
      studentId: student,
      scheduledStart,
      scheduledEnd: new Date(scheduledStart.getTime() + 3_600_000),
    };
    const created = await bookAndWait(nc, jetstream(nc), booking, 20_000);
    expect(created.bookingId).toBe('role-booking-1');
    const row = await h.db!.pool.query('select meeting_id, passcode from video_meetings where booking_id = $1', ['role-booking-1']);
    expect(row.rows).toEqual([{ meeting_id: created.meetingId, passcode: created.passcode }]);
    expect(created.url).toBe(`https://lessons.test/meet/${created.meetingId}#pwd=${created.passcode}`);
  });

  it('the passcode is in no event of MEETINGS, only in MEETING_LINKS, which the booking user reads with a durable consumer', async () => {
    const booked = await h.db!.pool.query<{ meeting_id: string; passcode: string }>('select meeting_id, passcode from video_meetings where booking_id = $1', [
      'role-booking-1',
    ]);
    const { meeting_id: meetingId, passcode } = booked.rows[0]!;
    const meetings = await readStream(h, 'MEETINGS', `meeting.*.${meetingId}`);
    expect(meetings.map((e) => e.subject)).toContain(`meeting.created.${meetingId}`);
    for (const e of meetings) expect(new TextDecoder().decode(e.data), e.subject).not.toContain(passcode);
    // The booking system catches up on links it missed, as its own user.
    const nc = await h.connectAs('booking');
    const jsm = await jetstreamManager(nc);
    await jsm.consumers.add('MEETING_LINKS', { durable_name: 'booking-platform', ack_policy: AckPolicy.Explicit });
    const m = await (await jetstream(nc).consumers.get('MEETING_LINKS', 'booking-platform')).next({ expires: 5_000 });
    expect(m && decode(MeetingLinkCreatedSchema, m.data)).toMatchObject({ meetingId, bookingId: 'role-booking-1', passcode });
    m?.ack();
  });
});
