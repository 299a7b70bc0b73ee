/** Lessons for the tests, created the way the booking system creates them: booking.confirmed on NATS. */
import { randomUUID } from 'node:crypto';
import { connectNats, createLogger, inboxPrefix, jetstream, type NatsConnection } from '@lessoncall/kit';
import { bookAndWait, demoStudentId, demoTutorId } from '@lessoncall/meeting';

export interface TestMeeting {
  meetingId: string;
  passcode: string;
  url: string;
  title: string;
}

export class Bookings {
  private constructor(private readonly nc: NatsConnection) {}

  /** Connects as the booking system: the stack's NATS_URL and the booking role's seed (stack.env's BOOKING_NKEY_SEED). */
  static async connect(env: { NATS_URL: string; BOOKING_NKEY_SEED?: string | undefined }): Promise<Bookings> {
    return new Bookings(
      await connectNats({
        url: env.NATS_URL,
        name: 'web-e2e',
        logger: createLogger('web-e2e', { level: 'silent' }),
        nkeySeed: env.BOOKING_NKEY_SEED,
        inboxPrefix: inboxPrefix('booking'),
      }),
    );
  }

  /**
   * A lesson of the demo tutor and demo student, starting `startInMinutes` from now; with
   * `otherStudents`, a group lesson of the demo student and them.
   */
  async book(opts: { title: string; startInMinutes?: number; minutes?: number; record?: boolean; otherStudents?: string[] }): Promise<TestMeeting> {
    const start = new Date(Date.now() + (opts.startInMinutes ?? 0) * 60_000);
    const created = await bookAndWait(
      this.nc,
      jetstream(this.nc),
      {
        bookingId: `e2e-${randomUUID()}`,
        tutorId: demoTutorId,
        studentId: demoStudentId,
        scheduledStart: start,
        scheduledEnd: new Date(start.getTime() + (opts.minutes ?? 60) * 60_000),
        title: opts.title,
        tutorName: 'Demo Tutor',
        studentName: 'Demo Student',
        record: opts.record ?? false,
        ...(opts.otherStudents ? { studentIds: [demoStudentId, ...opts.otherStudents] } : {}),
      },
      15_000,
    );
    const meetingId = created.meetingId;
    if (!meetingId) throw new Error('meeting_link.created without a meeting id');
    return { meetingId, passcode: created.passcode, url: created.url, title: opts.title };
  }

  async close() {
    await this.nc.close();
  }
}
