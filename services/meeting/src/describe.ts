import { type Db, type Logger, type NatsConnection, ServiceError, type Subscription, serve } from '@lessoncall/kit';
import { DescribeMeetingRequestSchema, DescribeMeetingResponseSchema, queues, rpc } from '@lessoncall/proto';
import type { MeetingEvents } from './events';
import { meetingColumns, type MeetingRow } from './model';
import { requireMeetingId } from './validation';

/**
 * svc.meeting.describe: the meeting for another service that keeps a projection of it (the
 * participant service, when a request beats meeting.created to it). The same Meeting the events
 * carry, never the passcode; the gateway does not route to it.
 */
export function serveDescribe(d: { nc: NatsConnection; db: Db; events: MeetingEvents; logger: Logger }): Subscription {
  return serve(d.nc, {
    subject: rpc.meetingDescribe,
    queue: queues.meeting,
    request: DescribeMeetingRequestSchema,
    response: DescribeMeetingResponseSchema,
    logger: d.logger,
    handler: async (req) => {
      const meetingId = requireMeetingId(req.meetingId);
      const row = (await d.db.autocommit.query<MeetingRow>(`select ${meetingColumns} from video_meetings where meeting_id = $1`, [meetingId])).rows[0];
      if (!row) throw new ServiceError('meeting_not_found', 'no such meeting', { meetingId });
      return { meeting: d.events.meeting(row) };
    },
  });
}
