import type { MessageInitShape } from '@bufbuild/protobuf';
import { ServiceError } from '@lessoncall/kit';
import type { RecordRequest, RecordResponseSchema } from '@lessoncall/proto';
import { type ChatRow, chatFromRow } from './chat';
import type { Context } from './context';
import { projectedMeeting } from './projection';
import { attendance } from './queries';
import * as valid from './validate';

/**
 * svc.participant.record: the lesson record once the meeting has ended — attendance, the whole
 * chat transcript, per-participant quality (none until clients report it: an empty list, not
 * zeros), and no board (the whiteboard does not exist yet). Read as the user, so RLS decides who
 * sees it: a stranger gets meeting_not_found, as for a meeting that does not exist.
 */
export async function record(ctx: Context, req: RecordRequest): Promise<MessageInitShape<typeof RecordResponseSchema>> {
  const meetingId = valid.meetingId(req.meetingId);
  const userId = valid.userId(req.userId);
  const transcript = await ctx.db.asUser(userId, async (tx) => {
    const meeting = await projectedMeeting(tx, meetingId);
    if (!meeting) throw new ServiceError('meeting_not_found', 'no such meeting', { meetingId });
    if (meeting.status !== 'completed') throw new ServiceError('conflict', 'the lesson record is ready once the meeting has ended', { meetingId });
    const r = await tx.query<ChatRow>(
      'select id, meeting_id, session_id, user_id, user_type, client_message_id, body, sent_at from video_chat_messages where meeting_id = $1 order by id',
      [meetingId],
    );
    return r.rows.map(chatFromRow);
  });
  const a = await attendance(ctx, { meetingId, userId, actorIsService: false, tutorId: '', studentId: '', $typeName: 'lessoncall.v1.AttendanceRequest' });
  return { record: { meetingId, attendance: a.attendance, transcript, quality: [] } };
}
