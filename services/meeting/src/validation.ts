import { type Timestamp, timestampDate } from '@bufbuild/protobuf/wkt';
import { invalidRequest } from '@lessoncall/kit';
import { isValidMeetingId } from '@lessoncall/proto';

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const maxTextLength = 200;

/** What a meeting is made from, checked: from booking.confirmed or svc.meeting.create. */
export interface NewMeeting {
  bookingId: string;
  tutorId: string;
  studentId: string;
  scheduledStart: Date;
  scheduledEnd: Date;
  title: string;
  tutorName: string;
  studentName: string;
}

export interface NewMeetingFields {
  bookingId: string;
  tutorId: string;
  studentId: string;
  scheduledStart?: Timestamp | undefined;
  scheduledEnd?: Timestamp | undefined;
  title: string;
  tutorName: string;
  studentName: string;
}

export function isUuid(value: string): boolean {
  return uuidPattern.test(value);
}

export function requireUuid(value: string, field: string): string {
  if (!isUuid(value)) throw invalidRequest(field, `${field} must be a uuid`);
  return value.toLowerCase();
}

export function requireMeetingId(value: string): string {
  if (!isValidMeetingId(value)) throw invalidRequest('meetingId', 'meetingId must look like MID- followed by 16 letters or digits');
  return value;
}

export function requireBookingId(value: string): string {
  if (value.length < 1 || value.length > maxTextLength) throw invalidRequest('bookingId', `bookingId must have 1 to ${maxTextLength} characters`);
  return value;
}

function optionalText(value: string, field: string): string {
  if (value.length > maxTextLength) throw invalidRequest(field, `${field} must have at most ${maxTextLength} characters`);
  return value;
}

export function requireTimes(start: Timestamp | undefined, end: Timestamp | undefined): { scheduledStart: Date; scheduledEnd: Date } {
  if (!start) throw invalidRequest('scheduledStart', 'scheduledStart is required');
  if (!end) throw invalidRequest('scheduledEnd', 'scheduledEnd is required');
  const scheduledStart = timestampDate(start);
  const scheduledEnd = timestampDate(end);
  if (Number.isNaN(scheduledStart.getTime())) throw invalidRequest('scheduledStart', 'scheduledStart is not a valid time');
  if (Number.isNaN(scheduledEnd.getTime())) throw invalidRequest('scheduledEnd', 'scheduledEnd is not a valid time');
  if (scheduledEnd <= scheduledStart) throw invalidRequest('scheduledEnd', 'scheduledEnd must be after scheduledStart');
  return { scheduledStart, scheduledEnd };
}

/** Checks a booking's fields; any problem is an invalid_request naming the field. */
export function validateNewMeeting(fields: NewMeetingFields): NewMeeting {
  const bookingId = requireBookingId(fields.bookingId);
  const tutorId = requireUuid(fields.tutorId, 'tutorId');
  const studentId = requireUuid(fields.studentId, 'studentId');
  if (tutorId === studentId) throw invalidRequest('studentId', 'tutorId and studentId must be different people');
  return {
    bookingId,
    tutorId,
    studentId,
    ...requireTimes(fields.scheduledStart, fields.scheduledEnd),
    title: optionalText(fields.title, 'title'),
    tutorName: optionalText(fields.tutorName, 'tutorName'),
    studentName: optionalText(fields.studentName, 'studentName'),
  };
}

/** The client key the gateway passes (e.g. an IP), bounded to what the table stores. */
export function normalizeClientKey(value: string): string | undefined {
  const key = value.trim().slice(0, maxTextLength);
  return key.length > 0 ? key : undefined;
}
