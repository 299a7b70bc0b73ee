import { type Timestamp, timestampDate } from '@bufbuild/protobuf/wkt';
import { invalidRequest } from '@lessoncall/kit';
import { isValidMeetingId } from '@lessoncall/proto';

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const maxTextLength = 200;
/**
 * C0 controls (NUL among them), DEL and C1 controls. Postgres refuses NUL in text, which used to
 * fail a whole batch; the others have no business in a title or a name and break log lines.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
const controlCharacters = /[\u0000-\u001f\u007f-\u009f]/;
/**
 * Times a lesson can plausibly have. Year 0000 or 9999 is a client bug (a zero value, a "never"
 * sentinel), not a booking; the bounds are wide enough never to refuse a real one.
 */
const earliestTime = Date.UTC(2000, 0, 1);
const latestTime = Date.UTC(2100, 0, 1);
/** A meeting is a lesson, not a standing room: longer than a day is a mistake in the booking. */
export const maxMeetingMs = 24 * 3600_000;

/** What a meeting is made from, checked: from booking.confirmed or svc.meeting.create. */
export interface NewMeeting {
  bookingId: string;
  tutorId: string;
  /** The first of studentIds. */
  studentId: string;
  /** Every student, studentId first, each once. */
  studentIds: string[];
  record: boolean;
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
  studentIds?: readonly string[];
  record?: boolean;
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

function noControlCharacters(value: string, field: string): string {
  if (controlCharacters.test(value)) throw invalidRequest(field, `${field} must not contain control characters`);
  return value;
}

export function requireBookingId(value: string): string {
  if (value.length < 1 || value.length > maxTextLength) throw invalidRequest('bookingId', `bookingId must have 1 to ${maxTextLength} characters`);
  return noControlCharacters(value, 'bookingId');
}

function optionalText(value: string, field: string): string {
  if (value.length > maxTextLength) throw invalidRequest(field, `${field} must have at most ${maxTextLength} characters`);
  return noControlCharacters(value, field);
}

function plausibleTime(value: Date, field: string): Date {
  if (Number.isNaN(value.getTime())) throw invalidRequest(field, `${field} is not a valid time`);
  if (value.getTime() < earliestTime || value.getTime() >= latestTime) throw invalidRequest(field, `${field} must be in the years 2000 to 2099`);
  return value;
}

export function requireTimes(start: Timestamp | undefined, end: Timestamp | undefined): { scheduledStart: Date; scheduledEnd: Date } {
  if (!start) throw invalidRequest('scheduledStart', 'scheduledStart is required');
  if (!end) throw invalidRequest('scheduledEnd', 'scheduledEnd is required');
  const scheduledStart = plausibleTime(timestampDate(start), 'scheduledStart');
  const scheduledEnd = plausibleTime(timestampDate(end), 'scheduledEnd');
  if (scheduledEnd <= scheduledStart) throw invalidRequest('scheduledEnd', 'scheduledEnd must be after scheduledStart');
  if (scheduledEnd.getTime() - scheduledStart.getTime() > maxMeetingMs)
    throw invalidRequest('scheduledEnd', `a meeting lasts at most ${maxMeetingMs / 3600_000} hours`);
  return { scheduledStart, scheduledEnd };
}

/** How many students a group may have (GROUP_MAX_STUDENTS); the default is the 25. */
export interface GroupLimits {
  maxStudents: number;
}

/**
 * The students of a booking: `studentIds` when given (a group; `studentId`, when also given, must
 * be one of them and comes first), else the one `studentId`. Each a uuid, once, not the tutor.
 */
function requireStudents(fields: NewMeetingFields, tutorId: string, limits: GroupLimits): string[] {
  const listed = (fields.studentIds ?? []).map((s, i) => requireUuid(s, `studentIds[${i}]`));
  if (new Set(listed).size !== listed.length) throw invalidRequest('studentIds', 'a student is listed twice');
  const first = fields.studentId || listed.length === 0 ? requireUuid(fields.studentId, 'studentId') : undefined;
  if (first && listed.length > 0 && !listed.includes(first)) throw invalidRequest('studentIds', 'studentIds must include studentId');
  const students = first ? [first, ...listed.filter((s) => s !== first)] : listed;
  if (students.includes(tutorId)) throw invalidRequest(listed.length > 0 ? 'studentIds' : 'studentId', 'tutorId and studentId must be different people');
  if (students.length > limits.maxStudents) throw invalidRequest('studentIds', `a group lesson has at most ${limits.maxStudents} students`);
  return students;
}

/** Checks a booking's fields; any problem is an invalid_request naming the field. */
export function validateNewMeeting(fields: NewMeetingFields, limits: GroupLimits = { maxStudents: 25 }): NewMeeting {
  const bookingId = requireBookingId(fields.bookingId);
  const tutorId = requireUuid(fields.tutorId, 'tutorId');
  const studentIds = requireStudents(fields, tutorId, limits);
  return {
    bookingId,
    tutorId,
    studentId: studentIds[0] as string,
    studentIds,
    record: fields.record ?? false,
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
