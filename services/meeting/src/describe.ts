import { type Db, ServiceError, type ServiceImpl } from '@lessoncall/kit';
import type { MeetingService } from '@lessoncall/proto';
import type { MeetingEvents } from './events';
import { meetingColumns, type MeetingRow } from './model';
import { requireMeetingId } from './validation';

/**
 * svc.meeting.describe: the meeting for another service that keeps a projection of it (the
 * participant service, when a request beats meeting.created to it). The same Meeting the events
 * carry, never the passcode; the gateway does not route to it.
 */
export function describeMeeting(d: { db: Db; events: MeetingEvents }): ServiceImpl<typeof MeetingService>['describeMeeting'] {
  return async (req) => {
    const meetingId = requireMeetingId(req.meetingId);
    const row = (await d.db.autocommit.query<MeetingRow>(`select ${meetingColumns} from video_meetings where meeting_id = $1`, [meetingId])).rows[0];
    if (!row) throw new ServiceError('meeting_not_found', 'no such meeting', { meetingId });
    return { meeting: d.events.meeting(row) };
  };
}
