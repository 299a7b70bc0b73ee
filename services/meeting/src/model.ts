import { create } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { type JoinWindowPolicy, joinWindow, type Meeting, MeetingSchema } from '@lessoncall/proto';

export type MeetingStatus = 'pending' | 'active' | 'completed' | 'cancelled';
export type MediaMode = 'p2p' | 'sfu';

/**
 * The SFU when the mesh cannot carry the lesson — more people than it holds, or a recording
 * (a mesh has no place to record) — or when configured for every meeting.
 */
export function mediaModeFor(m: { studentIds: readonly string[]; record: boolean }, policy: { meshMaxPeople: number; mode: 'auto' | 'sfu' }): MediaMode {
  if (policy.mode === 'sfu' || m.record || 1 + m.studentIds.length > policy.meshMaxPeople) return 'sfu';
  return 'p2p';
}

/** A row of video_meetings as the service selects it (see `meetingColumns`). */
export interface MeetingRow {
  meeting_id: string;
  booking_id: string;
  tutor_id: string;
  student_id: string;
  student_ids: string[];
  media_mode: MediaMode;
  record: boolean;
  recording_url: string | null;
  title: string;
  tutor_name: string;
  student_name: string;
  passcode: string;
  status: MeetingStatus;
  scheduled_start: Date;
  scheduled_end: Date;
  started_at: Date | null;
  ended_at: Date | null;
  end_reason: string | null;
  created_at: Date;
  updated_at: Date;
}

export const meetingColumns = `meeting_id, booking_id, tutor_id, student_id, student_ids::text[], media_mode, record, recording_url, title, tutor_name, student_name, passcode, status,
  scheduled_start, scheduled_end, started_at, ended_at, end_reason,
  created_at, updated_at`;

/** A meeting as a user may read it (RLS, as `authenticated`): every column but the passcode, which users hold no grant on. */
export type UserMeetingRow = Omit<MeetingRow, 'passcode'>;
export const userMeetingColumns = meetingColumns.replace('passcode, ', '');

const ts = (d: Date | null) => (d ? timestampFromDate(d) : undefined);

/** The meeting as services and clients see it: never the passcode. */
export function toMeeting(row: UserMeetingRow, window: JoinWindowPolicy): Meeting {
  const { opensAt, closesAt } = joinWindow({ scheduledStart: row.scheduled_start, scheduledEnd: row.scheduled_end }, window);
  return create(MeetingSchema, {
    meetingId: row.meeting_id,
    bookingId: row.booking_id,
    tutorId: row.tutor_id,
    studentId: row.student_id,
    studentIds: row.student_ids,
    mediaMode: row.media_mode,
    record: row.record,
    recordingUrl: row.recording_url ?? '',
    title: row.title,
    tutorName: row.tutor_name,
    studentName: row.student_name,
    status: row.status,
    scheduledStart: ts(row.scheduled_start),
    scheduledEnd: ts(row.scheduled_end),
    startedAt: ts(row.started_at),
    endedAt: ts(row.ended_at),
    createdAt: ts(row.created_at),
    updatedAt: ts(row.updated_at),
    joinableFrom: ts(opensAt),
    joinableUntil: ts(closesAt),
  });
}

/** tutor | student, or undefined for anybody else. */
export function userTypeOf(row: Pick<MeetingRow, 'tutor_id' | 'student_id' | 'student_ids'>, userId: string): 'tutor' | 'student' | undefined {
  const id = userId.toLowerCase();
  if (row.tutor_id.toLowerCase() === id) return 'tutor';
  if (row.student_id.toLowerCase() === id || row.student_ids.some((s) => s.toLowerCase() === id)) return 'student';
  return undefined;
}
