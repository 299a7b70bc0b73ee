import { randomUUID } from 'node:crypto';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { type NatsConnection, client } from '@lessoncall/kit';
import { MeetingService } from '@lessoncall/proto';

export interface TestMeeting {
  meetingId: string;
  passcode: string;
  bookingId: string;
  tutorId: string;
  studentId: string;
  /** Every student (studentId first): more than one with `students`. */
  studentIds: string[];
}

export interface TestMeetingOptions {
  /** Scheduled start (default: now). */
  start?: Date;
  minutes?: number;
  tutorName?: string;
  studentName?: string;
  timeoutMs?: number;
  /** How many students (default 1): a group lesson with more. */
  students?: number;
  record?: boolean;
}

/**
 * A meeting for a new tutor and student, created over svc.meeting.create with the booking
 * system's credential — what other services' tests need before anyone can join.
 */
export async function createTestMeeting(nc: NatsConnection, options: TestMeetingOptions = {}): Promise<TestMeeting> {
  const start = options.start ?? new Date();
  const tutorId = randomUUID();
  const studentIds = Array.from({ length: options.students ?? 1 }, () => randomUUID());
  const studentId = studentIds[0] as string;
  const bookingId = `bk-${randomUUID()}`;
  const res = await client(nc, MeetingService, { timeoutMs: options.timeoutMs ?? 5_000 }).createMeeting({
    bookingId,
    tutorId,
    studentId,
    studentIds,
    record: options.record ?? false,
    scheduledStart: timestampFromDate(start),
    scheduledEnd: timestampFromDate(new Date(start.getTime() + (options.minutes ?? 60) * 60_000)),
    tutorName: options.tutorName ?? '',
    studentName: options.studentName ?? '',
    actorIsService: true,
  });
  return { meetingId: res.meeting?.meetingId ?? '', passcode: res.passcode, bookingId, tutorId, studentId, studentIds };
}
