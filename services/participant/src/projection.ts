import { fromJson, type JsonValue } from '@bufbuild/protobuf';
import { type Timestamp, timestampDate } from '@bufbuild/protobuf/wkt';
import { invalidRequest, ServiceError, toJson, type Tx } from '@lessoncall/kit';
import { isValidMeetingId, type Meeting, MeetingSchema } from '@lessoncall/proto';
import type { Context } from './context';

/**
 * participant_meetings: the participant service's own projection of the meetings it works with.
 * The meeting service owns video_meetings; this service learns of meetings from the MEETINGS
 * stream and from svc.meeting.verify_join, never from that table.
 */

export type MeetingStatus = 'pending' | 'active' | 'completed' | 'cancelled';

const statuses: readonly string[] = ['pending', 'active', 'completed', 'cancelled'];
const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface ProjectedMeeting {
  meeting_id: string;
  tutor_id: string;
  student_id: string;
  /** Every student of the meeting (a group lesson has several), student_id first. */
  student_ids: string[];
  status: MeetingStatus;
  scheduled_start: Date;
  scheduled_end: Date;
  meeting: JsonValue;
}

export const projectionColumns = 'meeting_id, tutor_id, student_id, student_ids::text[], status, scheduled_start, scheduled_end, meeting';

/** The meeting's tutor or one of its students. */
export function isMemberOf(meeting: Pick<ProjectedMeeting, 'tutor_id' | 'student_id' | 'student_ids'>, userId: string): boolean {
  return meeting.tutor_id === userId || meeting.student_id === userId || meeting.student_ids.includes(userId);
}

/**
 * Sessions a meeting holds: the mesh's limit in p2p, everyone allowed in on the SFU (a group of
 * 25 students and a tutor is 26 people; extra tabs only into room somebody has not taken).
 */
export function maxSessionsFor(meeting: Meeting, meshMax: number): number {
  if (meeting.mediaMode !== 'sfu') return meshMax;
  return Math.max(meshMax, 1 + Math.max(1, meeting.studentIds.length));
}

/** The Meeting as last announced by its owner. */
export function meetingOf(row: Pick<ProjectedMeeting, 'meeting'>): Meeting {
  return fromJson(MeetingSchema, row.meeting, { ignoreUnknownFields: true });
}

export function isClosed(status: MeetingStatus): boolean {
  return status === 'completed' || status === 'cancelled';
}

/**
 * Records a snapshot of a meeting, unless the projection already holds a newer one (the rule is
 * `participant_apply_meeting`'s: by status rank, then the owner's updated_at, because events of
 * one meeting are handled concurrently and a join's verify_join answer may be older than an event
 * already applied). Either way the row is locked until the transaction ends, which serialises
 * joins and the meeting's end.
 *
 * A snapshot that cannot be a meeting is an invalid_request (an event carrying it is dead-lettered).
 */
export async function applyMeeting(tx: Tx, meeting: Meeting): Promise<void> {
  await tx.query('select participant_apply_meeting($1, $2, $3, $4, $5, $6, $7, $8)', snapshotParams(meeting));
}

/** The eight parameters of participant_apply_meeting and the first eight of participant_join. */
export function snapshotParams(meeting: Meeting): unknown[] {
  const m = checkedSnapshot(meeting);
  return [m.meetingId, m.tutorId, m.studentId, m.status, m.scheduledStart, m.scheduledEnd, m.updatedAt, toJson(MeetingSchema, meeting)];
}

/** The projected meeting, locked against concurrent joins and the meeting's end. */
export async function lockMeeting(tx: Tx, meetingId: string): Promise<ProjectedMeeting | undefined> {
  const r = await tx.query<ProjectedMeeting>(`select ${projectionColumns} from participant_meetings where meeting_id = $1 for no key update`, [meetingId]);
  return r.rows[0];
}

export async function projectedMeeting(tx: Tx, meetingId: string): Promise<ProjectedMeeting | undefined> {
  const r = await tx.query<ProjectedMeeting>(`select ${projectionColumns} from participant_meetings where meeting_id = $1`, [meetingId]);
  return r.rows[0];
}

/**
 * Runs `read`; if it finds no such meeting because the projection does not have it yet (a
 * request that beat meeting.created here), asks the owner (svc.meeting.describe), records the
 * answer and runs `read` once more. A meeting that is projected but not the caller's stays
 * meeting_not_found, so the answer is the same for a stranger whether or not it was projected.
 */
export async function withProjection<T>(ctx: Context, meetingId: string, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (err) {
    if (!(err instanceof ServiceError && err.code === 'meeting_not_found')) throw err;
    if (!(await fillFromOwner(ctx, meetingId))) throw err;
    return read();
  }
}

/** True when the projection lacked the meeting and now has it. */
async function fillFromOwner(ctx: Context, meetingId: string): Promise<boolean> {
  if (await ctx.db.asService((tx) => projectedMeeting(tx, meetingId))) return false;
  let meeting: Meeting | undefined;
  try {
    const r = await ctx.meetings.describeMeeting({ meetingId });
    meeting = r.meeting;
  } catch (err) {
    if (err instanceof ServiceError && err.code === 'meeting_not_found') return false;
    throw err;
  }
  if (!meeting) return false;
  await ctx.db.asService((tx) => applyMeeting(tx, meeting));
  ctx.logger.info({ meetingId }, 'meeting projected from its owner ahead of its events');
  return true;
}

function checkedSnapshot(m: Meeting) {
  if (!isValidMeetingId(m.meetingId)) throw invalidRequest('meeting.meetingId', `not a meeting id: ${m.meetingId}`);
  if (!uuidPattern.test(m.tutorId)) throw invalidRequest('meeting.tutorId', 'not a user id (uuid)');
  if (!uuidPattern.test(m.studentId)) throw invalidRequest('meeting.studentId', 'not a user id (uuid)');
  if (!statuses.includes(m.status)) throw invalidRequest('meeting.status', `not a meeting status: ${m.status}`);
  if (!m.scheduledStart || !m.scheduledEnd) throw invalidRequest('meeting.scheduledStart', 'the meeting has no schedule');
  if (!m.updatedAt) throw invalidRequest('meeting.updatedAt', 'the meeting has no updatedAt to order it by');
  const scheduledStart = timestampDate(m.scheduledStart);
  const scheduledEnd = timestampDate(m.scheduledEnd);
  if (scheduledEnd <= scheduledStart) throw invalidRequest('meeting.scheduledEnd', 'the meeting ends before it starts');
  return {
    meetingId: m.meetingId,
    tutorId: m.tutorId.toLowerCase(),
    studentId: m.studentId.toLowerCase(),
    status: m.status as MeetingStatus,
    scheduledStart,
    scheduledEnd,
    updatedAt: microseconds(m.updatedAt),
  };
}

/** A timestamp to Postgres' precision (a Date would cut it to milliseconds and merge two versions). */
function microseconds(t: Timestamp): string {
  const whole = new Date(Number(t.seconds) * 1000).toISOString().slice(0, 19);
  return `${whole}.${String(t.nanos).padStart(9, '0').slice(0, 6)}Z`;
}
