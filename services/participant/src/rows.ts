import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { type AttendanceEntrySchema, type Participant, ParticipantSchema } from '@lessoncall/proto';
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
