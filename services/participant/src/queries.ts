import type { MessageInitShape } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { ServiceError, type Tx } from '@lessoncall/kit';
import type {
  AttendanceRequest,
  AttendanceResponseSchema,
  ListParticipantsRequest,
  ListParticipantsResponseSchema,
  LiveSessionsRequest,
  LiveSessionsResponseSchema,
} from '@lessoncall/proto';
import { computeAttendance } from './attendance';
import type { Context } from './context';
import { projectedMeeting, withProjection } from './projection';
import { attendanceEntry, participantFromRow, type SessionRow, sessionColumns, spanFromRow } from './rows';
import * as valid from './validate';

/**
 * The meeting as the caller may see it. Under RLS a meeting that is not the user's is
 * indistinguishable from one that does not exist: both are meeting_not_found, so the endpoint
 * is no oracle for which meeting ids exist.
 */
type People = { tutor_id: string; student_id: string; student_ids?: string[] };

async function visibleMeeting(tx: Tx, meetingId: string): Promise<People> {
  const m = await projectedMeeting(tx, meetingId);
  if (!m) throw new ServiceError('meeting_not_found', 'no such meeting', { meetingId });
  return m;
}

/** svc.participant.list: read through RLS as the user (the meeting's tutor or student only). */
export async function list(ctx: Context, req: ListParticipantsRequest): Promise<MessageInitShape<typeof ListParticipantsResponseSchema>> {
  const meetingId = valid.meetingId(req.meetingId);
  const userId = valid.userId(req.userId);
  const rows = await withProjection(ctx, meetingId, () =>
    ctx.db.asUser(userId, async (tx) => {
      await visibleMeeting(tx, meetingId);
      const r = await tx.query<SessionRow>(
        `select ${sessionColumns} from video_participants
       where meeting_id = $1 and ($2 or left_at is null) order by joined_at, session_id`,
        [meetingId, req.includeLeft],
      );
      return r.rows;
    }),
  );
  return { participants: rows.map(participantFromRow) };
}

/**
 * svc.participant.attendance: for a service (the meeting service, for meeting.ended) as
 * service_role; for a user through RLS.
 */
export async function attendance(ctx: Context, req: AttendanceRequest): Promise<MessageInitShape<typeof AttendanceResponseSchema>> {
  const meetingId = valid.meetingId(req.meetingId);
  const read = async (tx: Tx) => {
    const meeting = req.actorIsService ? await peopleForService(tx, meetingId, req) : await visibleMeeting(tx, meetingId);
    const r = await tx.query<SessionRow>(`select ${sessionColumns} from video_participants where meeting_id = $1`, [meetingId]);
    return { meeting, rows: r.rows };
  };
  const { meeting, rows } = req.actorIsService
    ? await ctx.db.asService(read)
    : await withProjection(ctx, meetingId, () => ctx.db.asUser(valid.userId(req.userId), read));
  const now = ctx.clock.now();
  const entries = computeAttendance({ tutorId: meeting.tutor_id, studentId: meeting.student_id, studentIds: meeting.student_ids }, rows.map(spanFromRow), now);
  return { attendance: { meetingId, entries: entries.map(attendanceEntry), computedAt: timestampFromDate(now) } };
}

/**
 * The meeting's people for its owner. The meeting service says who they are (it asks before a
 * no-show or at the end): a meeting this service has not projected yet has no sessions, since
 * every session references the projection, so those two with no sessions is the true answer.
 */
async function peopleForService(tx: Tx, meetingId: string, req: AttendanceRequest): Promise<People> {
  const m = await projectedMeeting(tx, meetingId);
  if (m) return m;
  if (!req.tutorId || !req.studentId) throw new ServiceError('meeting_not_found', 'no such meeting', { meetingId });
  return { tutor_id: valid.userId(req.tutorId, 'tutorId'), student_id: valid.userId(req.studentId, 'studentId') };
}

/** svc.participant.live_sessions: every live session (or one meeting's), for signaling's roster. */
export async function liveSessions(ctx: Context, req: LiveSessionsRequest): Promise<MessageInitShape<typeof LiveSessionsResponseSchema>> {
  const meetingId = req.meetingId ? valid.meetingId(req.meetingId) : null;
  const r = await ctx.db.autocommit.query<{ meeting_id: string; session_id: string; user_id: string }>(
    `select meeting_id, session_id, user_id from video_participants
     where left_at is null and ($1::text is null or meeting_id = $1)
     order by meeting_id, joined_at, session_id`,
    [meetingId],
  );
  return { sessions: r.rows.map((s) => ({ meetingId: s.meeting_id, sessionId: s.session_id, userId: s.user_id })) };
}
