import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { type AttendanceEntrySchema, MeetingSchema, type Participant, ParticipantSchema, type Meeting } from '@lessoncall/proto';
import type { SessionSpan, UserAttendance } from './attendance';

/** The columns of video_participants every query returns. */
export const sessionColumns = `session_id, meeting_id, user_id, user_type, display_name, joined_at, left_at, left_reason,
  is_muted, camera_off, connected, disconnected_at, reconnects, resume_token_hash, gateway_id`;

export interface SessionRow {
  session_id: string;
  meeting_id: string;
  user_id: string;
  user_type: string;
  display_name: string;
  joined_at: Date;
  left_at: Date | null;
  left_reason: string | null;
  is_muted: boolean;
  camera_off: boolean;
  connected: boolean;
  disconnected_at: Date | null;
  reconnects: number;
  resume_token_hash: string | null;
  gateway_id: string | null;
}

export function participantFromRow(r: SessionRow): Participant {
  return create(ParticipantSchema, {
    sessionId: r.session_id,
    meetingId: r.meeting_id,
    userId: r.user_id,
    userType: r.user_type,
    displayName: r.display_name,
    joinedAt: timestampFromDate(r.joined_at),
    ...(r.left_at ? { leftAt: timestampFromDate(r.left_at) } : {}),
    isMuted: r.is_muted,
    cameraOff: r.camera_off,
    leftReason: r.left_reason ?? '',
    connected: r.connected,
  });
}

export function spanFromRow(r: SessionRow): SessionSpan {
  return {
    userId: r.user_id,
    userType: r.user_type,
    joinedAt: r.joined_at,
    leftAt: r.left_at,
    connected: r.connected,
    disconnectedAt: r.disconnected_at,
    reconnects: r.reconnects,
  };
}

const meetingColumnNames = [
  'meeting_id',
  'booking_id',
  'tutor_id',
  'student_id',
  'title',
  'tutor_name',
  'student_name',
  'status',
  'scheduled_start',
  'scheduled_end',
  'started_at',
  'ended_at',
  'created_at',
  'updated_at',
];

/** The columns of video_meetings a Meeting is made of, optionally qualified by a table alias. */
export function meetingColumns(alias?: string): string {
  return meetingColumnNames.map((c) => (alias ? `${alias}.${c}` : c)).join(', ');
}

export interface MeetingRow {
  meeting_id: string;
  booking_id: string;
  tutor_id: string;
  student_id: string;
  title: string;
  tutor_name: string;
  student_name: string;
  status: string;
  scheduled_start: Date;
  scheduled_end: Date;
  started_at: Date | null;
  ended_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

/** A meeting as read from video_meetings (the join window is the meeting service's to state). */
export function meetingFromRow(r: MeetingRow): Meeting {
  const ts = (d: Date | null) => (d ? timestampFromDate(d) : undefined);
  return create(MeetingSchema, {
    meetingId: r.meeting_id,
    bookingId: r.booking_id,
    tutorId: r.tutor_id,
    studentId: r.student_id,
    title: r.title,
    tutorName: r.tutor_name,
    studentName: r.student_name,
    status: r.status,
    scheduledStart: ts(r.scheduled_start),
    scheduledEnd: ts(r.scheduled_end),
    startedAt: ts(r.started_at),
    endedAt: ts(r.ended_at),
    createdAt: ts(r.created_at),
    updatedAt: ts(r.updated_at),
  });
}

export function attendanceEntry(a: UserAttendance): MessageInitShape<typeof AttendanceEntrySchema> {
  return {
    userId: a.userId,
    userType: a.userType,
    ...(a.firstJoinedAt ? { firstJoinedAt: timestampFromDate(a.firstJoinedAt) } : {}),
    ...(a.lastLeftAt ? { lastLeftAt: timestampFromDate(a.lastLeftAt) } : {}),
    connectedSeconds: a.connectedSeconds,
    sessions: a.sessions,
    reconnects: a.reconnects,
  };
}
